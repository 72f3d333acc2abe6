package dataset

import (
	"fmt"
	"image"
	_ "image/jpeg" // decoders for the folder reader
	_ "image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// LoadFolder reads dir/CLASS/*.{png,jpg,jpeg}, classes in sorted order,
// every image scaled (bilinear) to h x w with c channels (1: grey, 3: RGB).
func LoadFolder(dir string, c, h, w int) (*Set, error) {
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("%s: %d channels: images can be read as 1 (grey) or 3 (RGB)", dir, c)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Set{Name: dir, C: c, H: h, W: w}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			s.Names = append(s.Names, e.Name())
		}
	}
	slices.Sort(s.Names)
	if len(s.Names) < 2 {
		return nil, fmt.Errorf("%s: %d class folders; a training set needs at least 2 sub-folders of images", dir, len(s.Names))
	}
	if len(s.Names) > 256 {
		return nil, fmt.Errorf("%s: %d class folders, more than 256", dir, len(s.Names))
	}
	s.Classes = len(s.Names)
	for label, class := range s.Names {
		files, err := os.ReadDir(filepath.Join(dir, class))
		if err != nil {
			return nil, err
		}
		n := 0
		for _, f := range files {
			ext := strings.ToLower(filepath.Ext(f.Name()))
			if f.IsDir() || (ext != ".png" && ext != ".jpg" && ext != ".jpeg") {
				continue
			}
			path := filepath.Join(dir, class, f.Name())
			img, err := decode(path)
			if err != nil {
				return nil, err
			}
			s.Pixels = append(s.Pixels, scale(img, c, h, w)...)
			s.Labels = append(s.Labels, uint8(label))
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no PNG or JPEG images", filepath.Join(dir, class))
		}
	}
	return s, nil
}

func decode(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() == 0 || b.Dy() == 0 {
		return nil, fmt.Errorf("%s: empty image", path)
	}
	return img, nil
}

// scale resamples img to h x w bilinearly (pixel centres aligned) into c
// planar 8-bit channels.
func scale(img image.Image, c, h, w int) []uint8 {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	at := func(x, y int) [3]float64 {
		r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
		return [3]float64{float64(r >> 8), float64(g >> 8), float64(bl >> 8)}
	}
	out := make([]uint8, c*h*w)
	for y := range h {
		fy := max(0, min(float64(sh-1), (float64(y)+0.5)*float64(sh)/float64(h)-0.5))
		y0 := int(fy)
		y1, ty := min(y0+1, sh-1), fy-float64(y0)
		for x := range w {
			fx := max(0, min(float64(sw-1), (float64(x)+0.5)*float64(sw)/float64(w)-0.5))
			x0 := int(fx)
			x1, tx := min(x0+1, sw-1), fx-float64(x0)
			p00, p01, p10, p11 := at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1)
			var v [3]float64
			for k := range v {
				v[k] = (p00[k]*(1-tx)+p01[k]*tx)*(1-ty) + (p10[k]*(1-tx)+p11[k]*tx)*ty
			}
			if c == 1 {
				out[y*w+x] = uint8(0.299*v[0] + 0.587*v[1] + 0.114*v[2] + 0.5)
				continue
			}
			for k := range 3 {
				out[(k*h+y)*w+x] = uint8(v[k] + 0.5)
			}
		}
	}
	return out
}
