package imagenet

import (
	"encoding/binary"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/resnetc/resnetc/nn"
)

// Tolerances against torchvision, in units of one 8-bit pixel level
// (1/255 before normalisation). PNGs must agree exactly up to float32
// rounding: the resize is Pillow's integer arithmetic reproduced. JPEGs
// differ by the decoders (libjpeg-turbo in Pillow, image/jpeg in Go), not
// by the transform.
const (
	pngMaxLevels  = 0.01
	jpegMeanLevel = 1.0
	jpegMaxLevels = 24
)

// reference runs scripts/torch_preprocess.py into a temporary directory.
func reference(t *testing.T) string {
	dir := t.TempDir()
	cmd := exec.Command("/usr/bin/python3", filepath.Join("..", "scripts", "torch_preprocess.py"), dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("torchvision reference unavailable in CI: %v\n%s", err, out)
		}
		t.Skipf("torchvision reference unavailable (python3-torchvision, python3-skimage): %v\n%s", err, out)
	}
	return dir
}

func TestPreprocessMatchesTorchvision(t *testing.T) {
	dir := reference(t)
	ts, err := nn.ReadSafetensors(filepath.Join(dir, "reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range ts {
		name := ref.Name[len("tensor."):]
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := Preprocess(img)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := make([]float32, len(ref.Data)/4)
		for i := range want {
			want[i] = math.Float32frombits(binary.LittleEndian.Uint32(ref.Data[4*i:]))
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, torchvision has %d", name, len(got), len(want))
		}
		// Compare in pixel levels: undo the normalisation's scale.
		var sum, worst float64
		plane := CropSize * CropSize
		for i := range got {
			d := math.Abs(float64(got[i]-want[i])) * float64(std[i/plane]) * 255
			sum += d
			worst = math.Max(worst, d)
		}
		meanDiff := sum / float64(len(got))
		t.Logf("%-22s %dx%d  mean |diff| %.4f levels, max %.3f levels", name, img.Bounds().Dx(), img.Bounds().Dy(), meanDiff, worst)
		isJPEG := filepath.Ext(name) == ".jpg"
		if !isJPEG && worst > pngMaxLevels {
			t.Errorf("%s: differs from torchvision by up to %.3f levels", name, worst)
		}
		if isJPEG && (meanDiff > jpegMeanLevel || worst > jpegMaxLevels) {
			t.Errorf("%s: mean %.3f, max %.3f levels from torchvision", name, meanDiff, worst)
		}
	}
}

func TestTooSmall(t *testing.T) {
	if _, err := Preprocess(image.NewGray(image.Rect(0, 0, 300, 15))); err == nil {
		t.Error("a 300x15 image was accepted")
	}
}

func TestClasses(t *testing.T) {
	if Classes[0] != "tench" || Classes[281] != "tabby" || Classes[999] != "toilet tissue" {
		t.Errorf("class names out of order: %q %q %q", Classes[0], Classes[281], Classes[999])
	}
}
