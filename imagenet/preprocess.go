// Package imagenet prepares photographs for ImageNet classifiers exactly
// as torchvision's evaluation transform does (ResNet50_Weights.IMAGENET1K_V2
// .transforms(): resize the shorter side to 232 with Pillow's antialiased
// bilinear filter, centre crop 224, scale to [0, 1], normalise), and names
// the 1000 classes.
package imagenet

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// The transform of torchvision's ResNet50_Weights.IMAGENET1K_V2.
const (
	ResizeSize = 232
	CropSize   = 224
	// MinSide is the smallest side an image may have: anything smaller has
	// too little content to classify and is refused.
	MinSide = 16
)

var (
	mean = [3]float32{0.485, 0.456, 0.406}
	std  = [3]float32{0.229, 0.224, 0.225}
)

// Preprocess returns the 3 x CropSize x CropSize CHW float32 tensor of img.
func Preprocess(img image.Image) ([]float32, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < MinSide || h < MinSide {
		return nil, fmt.Errorf("image is %dx%d; at least %dx%d is needed", w, h, MinSide, MinSide)
	}
	src := toRGB(img)
	// torchvision: the shorter side becomes ResizeSize, the longer one
	// int(ResizeSize * long / short), truncated.
	nw, nh := ResizeSize, ResizeSize
	if w < h {
		nh = int(float64(ResizeSize) * float64(h) / float64(w))
	} else {
		nw = int(float64(ResizeSize) * float64(w) / float64(h))
	}
	resized := resize(src, w, h, nw, nh)
	// torchvision's center_crop rounds half to even, as Python's round does.
	top := int(math.RoundToEven(float64(nh-CropSize) / 2))
	left := int(math.RoundToEven(float64(nw-CropSize) / 2))
	out := make([]float32, 3*CropSize*CropSize)
	for c := 0; c < 3; c++ {
		for y := 0; y < CropSize; y++ {
			for x := 0; x < CropSize; x++ {
				v := float32(resized[((top+y)*nw+left+x)*3+c]) / 255
				out[(c*CropSize+y)*CropSize+x] = (v - mean[c]) / std[c]
			}
		}
	}
	return out, nil
}

// toRGB converts to 8-bit RGB as Pillow's convert("RGB") does: grey
// replicated, palette looked up, alpha dropped without blending.
func toRGB(img image.Image) []uint8 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]uint8, 0, w*h*3)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var r, g, bl uint8
			switch m := img.(type) {
			case *image.Gray:
				v := m.GrayAt(x, y).Y
				r, g, bl = v, v, v
			case *image.NRGBA:
				c := m.NRGBAAt(x, y)
				r, g, bl = c.R, c.G, c.B
			case *image.Paletted:
				c := color.NRGBAModel.Convert(m.Palette[m.ColorIndexAt(x, y)]).(color.NRGBA)
				r, g, bl = c.R, c.G, c.B
			default:
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				r, g, bl = c.R, c.G, c.B
			}
			out = append(out, r, g, bl)
		}
	}
	return out
}

// precision is Pillow's fixed-point precision for 8-bit resampling.
const precision = 32 - 8 - 2

// coeffs computes, as Pillow's precompute_coeffs and normalize_coeffs_8bpc
// do, the first input index, the count and the fixed-point weights of each
// output sample of a triangle (bilinear) filter widened when downscaling.
func coeffs(inSize, outSize int) (bounds []int, weights [][]int32) {
	scale := float64(inSize) / float64(outSize)
	filterScale := math.Max(scale, 1)
	support := filterScale // the bilinear filter's support is 1
	for xx := 0; xx < outSize; xx++ {
		center := (float64(xx) + 0.5) * scale
		ss := 1 / filterScale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		k := make([]float64, xmax)
		ww := 0.0
		for x := 0; x < xmax; x++ {
			t := math.Abs((float64(x+xmin) - center + 0.5) * ss)
			w := 0.0
			if t < 1 {
				w = 1 - t
			}
			k[x] = w
			ww += w
		}
		kk := make([]int32, xmax)
		for x := range k {
			if ww != 0 {
				k[x] /= ww
			}
			if k[x] < 0 {
				kk[x] = int32(-0.5 + k[x]*(1<<precision))
			} else {
				kk[x] = int32(0.5 + k[x]*(1<<precision))
			}
		}
		bounds = append(bounds, xmin, xmax)
		weights = append(weights, kk)
	}
	return bounds, weights
}

func clip8(v int32) uint8 {
	switch {
	case v >= 255<<precision:
		return 255
	case v <= 0:
		return 0
	}
	return uint8(v >> precision)
}

// resize scales an RGB image as Pillow's Image.resize with BILINEAR: a
// horizontal pass over the rows the vertical pass needs, rounded to 8
// bits, then a vertical pass.
func resize(src []uint8, w, h, nw, nh int) []uint8 {
	hb, hk := coeffs(w, nw)
	vb, vk := coeffs(h, nh)
	first, last := vb[0], vb[2*nh-2]+vb[2*nh-1]
	tmp := src
	rows := h
	if nw != w {
		rows = last - first
		tmp = make([]uint8, rows*nw*3)
		for y := 0; y < rows; y++ {
			in := src[(y+first)*w*3:]
			for xx := 0; xx < nw; xx++ {
				xmin, n, k := hb[2*xx], hb[2*xx+1], hk[xx]
				for c := 0; c < 3; c++ {
					ss := int32(1 << (precision - 1))
					for x := 0; x < n; x++ {
						ss += int32(in[(x+xmin)*3+c]) * k[x]
					}
					tmp[(y*nw+xx)*3+c] = clip8(ss)
				}
			}
		}
	} else {
		first = 0
	}
	if nh == h && nw != w {
		return tmp
	}
	out := make([]uint8, nh*nw*3)
	for yy := 0; yy < nh; yy++ {
		ymin, n, k := vb[2*yy]-first, vb[2*yy+1], vk[yy]
		for x := 0; x < nw*3; x++ {
			ss := int32(1 << (precision - 1))
			for y := 0; y < n; y++ {
				ss += int32(tmp[(y+ymin)*nw*3+x]) * k[y]
			}
			out[yy*nw*3+x] = clip8(ss)
		}
	}
	return out
}
