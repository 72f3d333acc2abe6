package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// idxFiles writes an IDX image file (gzipped when gz) and a label file.
func idxFiles(t *testing.T, n, h, w int, labels []byte, gz bool) (string, string) {
	t.Helper()
	dir := t.TempDir()
	img := binary.BigEndian.AppendUint32(nil, idxImages)
	for _, v := range []int{n, h, w} {
		img = binary.BigEndian.AppendUint32(img, uint32(v))
	}
	for i := range n * h * w {
		img = append(img, byte(i*7))
	}
	lab := binary.BigEndian.AppendUint32(nil, idxLabels)
	lab = binary.BigEndian.AppendUint32(lab, uint32(len(labels)))
	lab = append(lab, labels...)
	ip, lp := filepath.Join(dir, "images"), filepath.Join(dir, "labels")
	if gz {
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		z.Write(img)
		z.Close()
		img = b.Bytes()
		ip += ".gz"
	}
	os.WriteFile(ip, img, 0o644)
	os.WriteFile(lp, lab, 0o644)
	return ip, lp
}

func TestLoadIDX(t *testing.T) {
	for _, gz := range []bool{false, true} {
		ip, lp := idxFiles(t, 3, 5, 4, []byte{2, 0, 9}, gz)
		s, err := LoadIDX(ip, lp, 10)
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != 3 || s.C != 1 || s.H != 5 || s.W != 4 || s.Image(2)[1] != byte((2*20+1)*7%256) {
			t.Fatalf("gz=%v: got %d images of %dx%dx%d, pixel %d", gz, s.Len(), s.C, s.H, s.W, s.Image(2)[1])
		}
		if diff := cmp.Diff([]byte{2, 0, 9}, s.Labels); diff != "" {
			t.Fatalf("labels (-want +got):\n%s", diff)
		}
	}
}

// TestIDXErrors: each damaged file is named, with the offset at fault.
func TestIDXErrors(t *testing.T) {
	cases := []struct {
		name   string
		damage func(ip, lp string)
		want   string
	}{
		{"truncated images", func(ip, lp string) { trim(ip, 10) }, "images: truncated at offset 66 (uncompressed): 3 images of 5x4 need 76 bytes"},
		{"images swapped for labels", func(ip, lp string) { copyFile(lp, ip) }, "images: offset 0: magic number 0x00000801, want 0x00000803 (IDX images)"},
		{"label out of range", func(ip, lp string) { poke(lp, 9, 12) }, "labels: offset 9: label 12 of image 1 is outside 0..9"},
		{"truncated labels", func(ip, lp string) { trim(lp, 1) }, "labels: truncated at offset 10 (uncompressed): 3 labels need 11 bytes"},
		{"trailing bytes", func(ip, lp string) { appendTo(ip, 5) }, "images: offset 76 (uncompressed): 5 bytes after the last image"},
		{"empty", func(ip, lp string) { os.WriteFile(ip, nil, 0o644) }, "images: truncated at offset 0 (uncompressed): the IDX header needs 16 bytes"},
		{"count mismatch", func(ip, lp string) { poke(lp, 7, 2); trim(lp, 1) }, "has 3 images but"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ip, lp := idxFiles(t, 3, 5, 4, []byte{2, 0, 9}, false)
			c.damage(ip, lp)
			_, err := LoadIDX(ip, lp, 10)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
	t.Run("truncated gzip", func(t *testing.T) {
		ip, lp := idxFiles(t, 30, 28, 28, make([]byte, 30), true)
		trim(ip, 40)
		_, err := LoadIDX(ip, lp, 10)
		if err == nil || !strings.Contains(err.Error(), "images.gz: truncated gzip stream after") {
			t.Fatalf("error %v, want a truncated gzip stream named", err)
		}
	})
}

func TestFashionMNIST(t *testing.T) {
	if _, err := os.Stat(FashionMNISTDir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must install dataset-fashion-mnist: %v", err)
		}
		t.Skip("dataset-fashion-mnist is not installed")
	}
	tr, te, err := LoadFashionMNIST(FashionMNISTDir)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 60000 || te.Len() != 10000 || tr.H != 28 || tr.W != 28 {
		t.Fatalf("got %d and %d images of %dx%d, want 60000 and 10000 of 28x28", tr.Len(), te.Len(), tr.H, tr.W)
	}
	var count [10]int
	for _, l := range te.Labels {
		count[l]++
	}
	for c, n := range count {
		if n != 1000 {
			t.Fatalf("test class %d has %d images, want 1000", c, n)
		}
	}
}

func cifarFile(t *testing.T, labels []byte) string {
	t.Helper()
	var raw []byte
	for i, l := range labels {
		raw = append(raw, l)
		for j := range 3072 {
			raw = append(raw, byte(i+j))
		}
	}
	p := filepath.Join(t.TempDir(), "data_batch_1.bin")
	os.WriteFile(p, raw, 0o644)
	return p
}

func TestCIFAR10(t *testing.T) {
	p := cifarFile(t, []byte{3, 9, 0})
	s, err := LoadCIFAR10Files(p, p)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 6 || s.C != 3 || s.Image(1)[1024] != byte((1+1024)%256) {
		t.Fatalf("got %d images, pixel %d", s.Len(), s.Image(1)[1024])
	}
	trim(p, 100)
	if _, err := LoadCIFAR10Files(p); err == nil || !strings.Contains(err.Error(), "data_batch_1.bin: truncated or not a CIFAR-10 binary batch: 9119 bytes is not a whole number of 3073-byte records (the last one starts at offset 6146)") {
		t.Fatalf("truncated: %v", err)
	}
	p = cifarFile(t, []byte{3, 42})
	if _, err := LoadCIFAR10Files(p); err == nil || !strings.Contains(err.Error(), "offset 3073: label 42 of record 1 is outside 0..9") {
		t.Fatalf("bad label: %v", err)
	}
	if _, _, err := LoadCIFAR10(t.TempDir()); err == nil || !strings.Contains(err.Error(), "data_batch_1.bin") {
		t.Fatalf("missing files: %v", err)
	}
}

func TestFolder(t *testing.T) {
	dir := t.TempDir()
	for ci, class := range []string{"dog", "cat"} {
		os.MkdirAll(filepath.Join(dir, class), 0o755)
		for k := range 2 {
			img := image.NewRGBA(image.Rect(0, 0, 7+k, 5))
			for y := range 5 {
				for x := range 7 + k {
					img.Set(x, y, color.RGBA{R: uint8(100 * ci), G: 50, B: uint8(x * 30), A: 255})
				}
			}
			var b bytes.Buffer
			png.Encode(&b, img)
			os.WriteFile(filepath.Join(dir, class, string(rune('a'+k))+".png"), b.Bytes(), 0o644)
		}
	}
	os.WriteFile(filepath.Join(dir, "cat", "notes.txt"), []byte("ignored"), 0o644)
	s, err := LoadFolder(dir, 3, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"cat", "dog"}, s.Names); diff != "" {
		t.Fatalf("classes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint8{0, 0, 1, 1}, s.Labels); diff != "" {
		t.Fatalf("labels (-want +got):\n%s", diff)
	}
	if r, g := s.Image(0)[0], s.Image(0)[16]; r != 100 || g != 50 {
		t.Fatalf("cat image's red %d and green %d, want 100 and 50", r, g)
	}
	if r := s.Image(2)[0]; r != 0 {
		t.Fatalf("dog image's red %d, want 0", r)
	}
	os.WriteFile(filepath.Join(dir, "cat", "broken.png"), []byte("not a png"), 0o644)
	if _, err := LoadFolder(dir, 3, 4, 4); err == nil || !strings.Contains(err.Error(), filepath.Join("cat", "broken.png")) {
		t.Fatalf("broken image: %v", err)
	}
}

func TestFitAndSplit(t *testing.T) {
	s := &Set{Name: "s", C: 1, H: 2, W: 2, Classes: 3, Pixels: []uint8{1, 2, 3, 4, 5, 6, 7, 8}, Labels: []uint8{0, 2}}
	f, err := s.Fit(3, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint8{0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0}
	for c := range 3 {
		if diff := cmp.Diff(want, f.Image(0)[c*16:(c+1)*16]); diff != "" {
			t.Fatalf("channel %d (-want +got):\n%s", c, diff)
		}
	}
	rest, held, err := f.Split(1, 7)
	if err != nil || rest.Len() != 1 || held.Len() != 1 || rest.Labels[0] == held.Labels[0] {
		t.Fatalf("split: %v, %d and %d", err, rest.Len(), held.Len())
	}
	if _, _, err := f.Split(2, 7); err == nil {
		t.Fatal("holding out every image must fail")
	}
	if _, err := (&Set{Name: "rgb", C: 3, H: 2, W: 2}).Fit(1, 2, 2); err == nil || !strings.Contains(err.Error(), "rgb: images have 3 channels and the network takes 1") {
		t.Fatalf("channels: %v", err)
	}
}

func trim(path string, n int) {
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)-n], 0o644)
}

func poke(path string, off int, v byte) {
	b, _ := os.ReadFile(path)
	b[off] = v
	os.WriteFile(path, b, 0o644)
}

func appendTo(path string, n int) {
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append(b, make([]byte, n)...), 0o644)
}

func copyFile(src, dst string) {
	b, _ := os.ReadFile(src)
	os.WriteFile(dst, b, 0o644)
}
