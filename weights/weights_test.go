package weights

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnetc/resnetc/nn"
)

// TestBadFiles needs no PyTorch: files that are no checkpoint at all are
// refused with the file's name, before the pickle reader sees them.
func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"empty.pth":     "",
		"text.pth":      "this is not a checkpoint",
		"cutzip.pth":    "PK\x03\x04 a zip archive cut right after its first header",
		"pickle.pth":    "\x80\x02}q\x00.", // a pickle, but not a checkpoint
		"legacycut.pth": string(legacyMagic[:8]),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(p); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Read(filepath.Join(dir, "missing.pth")); err == nil {
		t.Error("a missing file was read")
	}
}

// TestSafetensorsThroughRead checks that Read passes safetensors through
// and Convert widens F16 to F32.
func TestSafetensorsThroughRead(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "h.safetensors")
	half := nn.Tensor{Name: "w", DType: "F16", Shape: []int{2}, Data: []byte{0x00, 0x3e, 0x00, 0xc0}} // 1.5, -2
	if err := nn.WriteSafetensors(in, []nn.Tensor{half}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Read(in)
	if err != nil || f.Format != "safetensors" || f.Stored[0] != "F16" {
		t.Fatalf("%+v, %v", f, err)
	}
	out := filepath.Join(dir, "f.safetensors")
	if _, err := Convert(in, out); err != nil {
		t.Fatal(err)
	}
	p := []nn.Param{{Name: "w", Shape: []int{2}, Data: make([]float32, 2)}}
	if err := Load(out, p); err != nil || p[0].Data[0] != 1.5 || p[0].Data[1] != -2 {
		t.Errorf("converted: %v %v", p[0].Data, err)
	}
	g, _ := Read(out)
	if g.Stored[0] != "F32" {
		t.Errorf("converted dtype %s", g.Stored[0])
	}
}
