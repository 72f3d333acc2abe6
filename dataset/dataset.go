// Package dataset reads labelled image sets for training: Fashion-MNIST
// and MNIST (IDX files, optionally gzipped), CIFAR-10 (its binary
// version) and a folder of PNG/JPEG images with one sub-folder per class.
// Every reader validates what it reads and names the file and the byte
// offset of the first thing that is wrong.
package dataset

import (
	"fmt"
	"math/rand/v2"
)

// Set is a labelled image set held in memory as 8-bit pixels.
type Set struct {
	Name    string   // where it came from, for messages
	C, H, W int      // one image's shape
	Pixels  []uint8  // N images, each C x H x W (planar)
	Labels  []uint8  // N labels, each below Classes
	Classes int      // number of classes
	Names   []string // class names, when known (folder sets)
}

// Len is the number of images.
func (s *Set) Len() int { return len(s.Labels) }

// ImageSize is the number of pixels of one image.
func (s *Set) ImageSize() int { return s.C * s.H * s.W }

// Image returns image i's pixels.
func (s *Set) Image(i int) []uint8 {
	n := s.ImageSize()
	return s.Pixels[i*n : (i+1)*n]
}

// Subset returns the images at idx, in that order, as a new set.
func (s *Set) Subset(name string, idx []int) *Set {
	out := &Set{Name: name, C: s.C, H: s.H, W: s.W, Classes: s.Classes, Names: s.Names,
		Pixels: make([]uint8, 0, len(idx)*s.ImageSize()), Labels: make([]uint8, 0, len(idx))}
	for _, i := range idx {
		out.Pixels = append(out.Pixels, s.Image(i)...)
		out.Labels = append(out.Labels, s.Labels[i])
	}
	return out
}

// Split holds out n images chosen with seed (the validation set) and
// returns the rest and the held-out images; both keep the original order.
func (s *Set) Split(n int, seed uint64) (rest, held *Set, err error) {
	if n < 0 || n >= s.Len() {
		return nil, nil, fmt.Errorf("%s: cannot hold out %d of %d images", s.Name, n, s.Len())
	}
	perm := rand.New(rand.NewPCG(seed, 0x5911_7)).Perm(s.Len())
	out := make([]bool, s.Len())
	for _, i := range perm[:n] {
		out[i] = true
	}
	var a, b []int
	for i := range out {
		if out[i] {
			b = append(b, i)
		} else {
			a = append(a, i)
		}
	}
	return s.Subset(s.Name+" (train part)", a), s.Subset(s.Name+" (held out)", b), nil
}

// Fit returns the set reshaped for a network's input of c x h x w: one
// grey channel is repeated to three, smaller images are padded with zeros
// around the centre (Fashion-MNIST's 28x28 into a CIFAR net's 32x32),
// larger ones cropped around the centre.
func (s *Set) Fit(c, h, w int) (*Set, error) {
	if s.C == c && s.H == h && s.W == w {
		return s, nil
	}
	if s.C != c && s.C != 1 {
		return nil, fmt.Errorf("%s: images have %d channels and the network takes %d", s.Name, s.C, c)
	}
	out := &Set{Name: s.Name, C: c, H: h, W: w, Classes: s.Classes, Names: s.Names, Labels: s.Labels,
		Pixels: make([]uint8, s.Len()*c*h*w)}
	dy, dx := (h-s.H)/2, (w-s.W)/2
	for i := range s.Len() {
		src, dst := s.Image(i), out.Pixels[i*c*h*w:(i+1)*c*h*w]
		for ch := range c {
			sc := ch
			if s.C == 1 {
				sc = 0
			}
			for y := range h {
				sy := y - dy
				if sy < 0 || sy >= s.H {
					continue
				}
				for x := range w {
					sx := x - dx
					if sx < 0 || sx >= s.W {
						continue
					}
					dst[(ch*h+y)*w+x] = src[(sc*s.H+sy)*s.W+sx]
				}
			}
		}
	}
	return out, nil
}
