package torchref

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/resnetc/resnetc/generated/resnet18"
	"github.com/resnetc/resnetc/generated/resnet50"
	"github.com/resnetc/resnetc/nn/nntest"
	"github.com/resnetc/resnetc/weights"
)

var (
	checkpointsOnce sync.Once
	checkpointsDir  string
	checkpointsErr  error
)

// checkpoints runs scripts/torch_checkpoints.py once.
func checkpoints(t *testing.T) string {
	checkpointsOnce.Do(func() {
		checkpointsDir, checkpointsErr = runScript("torch_checkpoints.py")
	})
	needPyTorch(t, checkpointsErr)
	return checkpointsDir
}

// loadable is a generated model that can be told its weights changed.
type loadable interface {
	nntest.Model
	WeightsChanged()
}

// TestCheckpoints loads checkpoints written by torch.save in Go, with no
// Python, and checks the logits against PyTorch's for the same weights.
func TestCheckpoints(t *testing.T) {
	dir := checkpoints(t)
	defer os.RemoveAll(dir)
	ref := load(t, filepath.Join(dir, "reference.safetensors"))
	x := ref.floats(t, "input")
	for _, c := range []struct {
		file, logits string
		model        loadable
		stored       string
	}{
		{"resnet18.pth", "logits.resnet18", resnet18.New(0), "F32"},
		{"resnet18_legacy.pth", "logits.resnet18", resnet18.New(0), "F32"},
		{"resnet18_half.pth", "logits.resnet18_half", resnet18.New(0), "F16"},
		{"resnet50.pth", "logits.resnet50", resnet50.New(0), "F32"},
	} {
		path := filepath.Join(dir, c.file)
		f, err := weights.Read(path)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if f.Format != "pytorch" || f.Stored[0] != c.stored || f.Stored[len(f.Stored)-1] != "F32" && !strings.HasSuffix(f.Tensors[len(f.Tensors)-1].Name, "bias") {
			t.Errorf("%s: format %s, first tensor stored as %s", c.file, f.Format, f.Stored[0])
		}
		if err := weights.Load(path, c.model.Params()); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		c.model.WeightsChanged()
		out, err := c.model.Forward(x, 2)
		if err != nil {
			t.Fatal(err)
		}
		e := relErr(out, ref.floats(t, c.logits))
		t.Logf("%s: logits relative error %.2g", c.file, e)
		if e > tolLogits {
			t.Errorf("%s: logits differ from PyTorch's by %.3g", c.file, e)
		}
		// Converting to safetensors and loading that gives the same weights.
		st := filepath.Join(t.TempDir(), "w.safetensors")
		if _, err := weights.Convert(path, st); err != nil {
			t.Fatal(err)
		}
		if err := c.model.LoadWeights(st); err != nil {
			t.Fatalf("%s converted: %v", c.file, err)
		}
		again, _ := c.model.Forward(x, 2)
		if e := relErr(again, ref.floats(t, c.logits)); e > tolLogits {
			t.Errorf("%s converted: logits differ by %.3g", c.file, e)
		}
	}

	// Mismatches name the file and the tensors.
	err := weights.Load(filepath.Join(dir, "resnet18.pth"), resnet50.New(0).Params())
	if err == nil || !strings.Contains(err.Error(), "resnet18.pth: missing") || !strings.Contains(err.Error(), "layer1.0.conv3.weight") ||
		!strings.Contains(err.Error(), "has shape [64, 64, 3, 3], the model needs [64, 64, 1, 1]") {
		t.Errorf("resnet18 weights into resnet50: %v", err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "resnet18.pth"))
	legacy, _ := os.ReadFile(filepath.Join(dir, "resnet18_legacy.pth"))
	for _, bad := range []struct {
		name string
		data []byte
	}{
		{"truncated.pth", raw[:len(raw)/2]},
		{"truncated_legacy.pth", legacy[:len(legacy)/2]},
		{"garbage.pth", []byte("this is not a checkpoint at all")},
		{"empty.pth", nil},
	} {
		p := filepath.Join(t.TempDir(), bad.name)
		os.WriteFile(p, bad.data, 0o644)
		if _, err := weights.Read(p); err == nil || !strings.Contains(err.Error(), bad.name) {
			t.Errorf("%s: %v", bad.name, err)
		}
	}
}
