package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// IDX magic numbers: unsigned bytes, 3 dimensions (images) or 1 (labels).
const (
	idxImages = 0x00000803
	idxLabels = 0x00000801
	maxImages = 1 << 24
)

// LoadIDX reads an IDX image file and its IDX label file (MNIST's format,
// used by Fashion-MNIST), gzipped or not, as a set of grey images with
// classes labels.
func LoadIDX(imagesPath, labelsPath string, classes int) (*Set, error) {
	img, err := readMaybeGzip(imagesPath)
	if err != nil {
		return nil, err
	}
	lab, err := readMaybeGzip(labelsPath)
	if err != nil {
		return nil, err
	}
	n, dims, err := idxHeader(imagesPath, img, idxImages, 3)
	if err != nil {
		return nil, err
	}
	nl, _, err := idxHeader(labelsPath, lab, idxLabels, 1)
	if err != nil {
		return nil, err
	}
	if n != nl {
		return nil, fmt.Errorf("%s has %d images but %s has %d labels", imagesPath, n, labelsPath, nl)
	}
	h, w := dims[0], dims[1]
	if h == 0 || w == 0 || h > 4096 || w > 4096 {
		return nil, fmt.Errorf("%s: offset 8: image size %dx%d is not plausible", imagesPath, h, w)
	}
	need := 16 + n*h*w
	if len(img) < need {
		return nil, fmt.Errorf("%s: truncated at offset %d (uncompressed): %d images of %dx%d need %d bytes", imagesPath, len(img), n, h, w, need)
	}
	if len(img) > need {
		return nil, fmt.Errorf("%s: offset %d (uncompressed): %d bytes after the last image", imagesPath, need, len(img)-need)
	}
	if len(lab) != 8+n {
		if len(lab) < 8+n {
			return nil, fmt.Errorf("%s: truncated at offset %d (uncompressed): %d labels need %d bytes", labelsPath, len(lab), n, 8+n)
		}
		return nil, fmt.Errorf("%s: offset %d (uncompressed): %d bytes after the last label", labelsPath, 8+n, len(lab)-8-n)
	}
	s := &Set{Name: imagesPath, C: 1, H: h, W: w, Classes: classes, Pixels: img[16:need], Labels: lab[8 : 8+n]}
	for i, l := range s.Labels {
		if int(l) >= classes {
			return nil, fmt.Errorf("%s: offset %d: label %d of image %d is outside 0..%d", labelsPath, 8+i, l, i, classes-1)
		}
	}
	return s, nil
}

// idxHeader checks the magic number and reads the count and the other
// dimensions.
func idxHeader(path string, raw []byte, magic uint32, ndim int) (n int, dims []int, err error) {
	hdr := 4 + 4*ndim
	if len(raw) >= 4 {
		if m := binary.BigEndian.Uint32(raw); m != magic {
			return 0, nil, fmt.Errorf("%s: offset 0: magic number %#08x, want %#08x (IDX %s): not this kind of IDX file", path, m, magic, map[uint32]string{idxImages: "images", idxLabels: "labels"}[magic])
		}
	}
	if len(raw) < hdr {
		return 0, nil, fmt.Errorf("%s: truncated at offset %d (uncompressed): the IDX header needs %d bytes", path, len(raw), hdr)
	}
	n = int(binary.BigEndian.Uint32(raw[4:]))
	if n == 0 || n > maxImages {
		return 0, nil, fmt.Errorf("%s: offset 4: %d items is not plausible", path, n)
	}
	for d := 1; d < ndim; d++ {
		dims = append(dims, int(binary.BigEndian.Uint32(raw[4+4*d:])))
	}
	return n, dims, nil
}

// readMaybeGzip reads a file, inflating it if it starts with gzip's magic.
func readMaybeGzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(2)
	if !bytes.Equal(head, []byte{0x1f, 0x8b}) {
		return io.ReadAll(br)
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, zr); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s: truncated gzip stream after %d uncompressed bytes", path, buf.Len())
		}
		return nil, fmt.Errorf("%s: after %d uncompressed bytes: %v", path, buf.Len(), err)
	}
	return buf.Bytes(), nil
}

// FashionMNISTDir is where Debian's dataset-fashion-mnist puts the files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTClasses names Fashion-MNIST's labels 0..9.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// LoadFashionMNIST reads the training and test sets from dir (the four
// files under their usual names, gzipped or not).
func LoadFashionMNIST(dir string) (train, test *Set, err error) {
	find := func(base string) string {
		p := filepath.Join(dir, base+".gz")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		return filepath.Join(dir, base)
	}
	if train, err = LoadIDX(find("train-images-idx3-ubyte"), find("train-labels-idx1-ubyte"), 10); err != nil {
		return nil, nil, err
	}
	if test, err = LoadIDX(find("t10k-images-idx3-ubyte"), find("t10k-labels-idx1-ubyte"), 10); err != nil {
		return nil, nil, err
	}
	train.Names, test.Names = FashionMNISTClasses, FashionMNISTClasses
	return train, test, nil
}
