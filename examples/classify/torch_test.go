package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnetc/resnetc/imagenet"
)

// TestAgainstTorchvision classifies photographs with a checkpoint written
// by torch.save, loaded in Go, and compares the top 5 with torchvision's
// own pipeline (transform, model, softmax) on the same files.
func TestAgainstTorchvision(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("/usr/bin/python3", filepath.Join("..", "..", "scripts", "torch_classify.py"), dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PyTorch unavailable in CI: %v\n%s", err, out)
		}
		t.Skipf("PyTorch unavailable: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string]struct {
		Index []int
		Prob  []float64
	}
	if err := json.Unmarshal(raw, &expected); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	images := []string{filepath.Join(dir, "chelsea.png"), filepath.Join(dir, "coffee.jpg")}
	if code := run(append([]string{"-weights", filepath.Join(dir, "resnet50.pth")}, images...), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	for i, path := range images {
		name := filepath.Base(path)
		want := expected[name]
		// Percentages are printed with two decimals; a PNG decodes
		// identically in Go and Pillow, a JPEG only nearly.
		tol := 0.006
		if strings.HasSuffix(name, ".jpg") {
			tol = 0.5
		}
		for r := 0; r < 5; r++ {
			line := lines[i*6+1+r]
			var rank int
			var pct float64
			fields := strings.Fields(line)
			fmt.Sscanf(fields[0], "%d.", &rank)
			fmt.Sscanf(strings.TrimSuffix(fields[len(fields)-1], "%"), "%f", &pct)
			label := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, fmt.Sprintf("  %d. ", rank)), fields[len(fields)-1]))
			if label != imagenet.Classes[want.Index[r]] || math.Abs(pct-100*want.Prob[r]) > tol {
				t.Errorf("%s #%d: %q %.2f%%, torchvision %q %.4f%%", name, r+1, label, pct, imagenet.Classes[want.Index[r]], 100*want.Prob[r])
			}
		}
	}
	t.Logf("\n%s", stdout.String())
}
