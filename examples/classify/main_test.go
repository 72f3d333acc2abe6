package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnetc/resnetc/generated/resnet50"
)

// TestClassify runs the example on two images with seeded weights, and on
// bad files, which are reported while the good images are still classified.
func TestClassify(t *testing.T) {
	dir := t.TempDir()
	w := filepath.Join(dir, "w.safetensors")
	if err := resnet50.New(3).SaveWeights(w); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var buf bytes.Buffer
	img := image.NewNRGBA(image.Rect(0, 0, 300, 257))
	for y := 0; y < 257; y++ {
		for x := 0; x < 300; x++ {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	png.Encode(&buf, img)
	good := write("good.png", buf.Bytes())
	truncated := write("truncated.png", buf.Bytes()[:buf.Len()/3])
	text := write("notes.txt", []byte("not an image"))
	var tiny bytes.Buffer
	png.Encode(&tiny, image.NewGray(image.Rect(0, 0, 8, 8)))
	small := write("tiny.png", tiny.Bytes())

	var out, errs bytes.Buffer
	code := run([]string{"-weights", w, "-top", "3", good, truncated, text, small, good}, &out, &errs)
	if code != 1 {
		t.Errorf("exit %d, want 1 (some images failed)", code)
	}
	for _, want := range []string{truncated + ": not a readable image", text + ": not a readable image", small + ": png image: image is 8x8"} {
		if !strings.Contains(errs.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs.String())
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 8 || lines[0] != good+":" || !strings.HasPrefix(lines[1], "  1. ") || !strings.HasSuffix(lines[1], "%") {
		t.Errorf("stdout:\n%s", out.String())
	}
	// The same image twice in one batch gets the same answer.
	if lines[1] != lines[5] {
		t.Errorf("same image, different top class: %q vs %q", lines[1], lines[5])
	}
	if code := run([]string{good}, &out, &errs); code != 2 {
		t.Errorf("without -weights: exit %d", code)
	}
	if code := run([]string{"-weights", filepath.Join(dir, "missing.pth"), good}, &out, &errs); code != 1 {
		t.Errorf("missing weights: exit %d", code)
	}
}
