package dataset

import (
	"fmt"
	"os"
	"path/filepath"
)

// CIFAR-10's binary records: one label byte, then 3 x 32 x 32 pixels.
const cifarRecord = 1 + 3*32*32

// CIFAR10Classes names CIFAR-10's labels 0..9.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// LoadCIFAR10 reads CIFAR-10's binary version from dir: data_batch_1.bin
// to data_batch_5.bin for training and test_batch.bin for testing.
func LoadCIFAR10(dir string) (train, test *Set, err error) {
	var files []string
	for i := 1; i <= 5; i++ {
		files = append(files, filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", i)))
	}
	if train, err = LoadCIFAR10Files(files...); err != nil {
		return nil, nil, err
	}
	if test, err = LoadCIFAR10Files(filepath.Join(dir, "test_batch.bin")); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// LoadCIFAR10Files reads and concatenates CIFAR-10 binary batch files.
func LoadCIFAR10Files(paths ...string) (*Set, error) {
	s := &Set{Name: paths[0], C: 3, H: 32, W: 32, Classes: 10, Names: CIFAR10Classes}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if len(raw) == 0 || len(raw)%cifarRecord != 0 {
			return nil, fmt.Errorf("%s: truncated or not a CIFAR-10 binary batch: %d bytes is not a whole number of %d-byte records (the last one starts at offset %d)",
				p, len(raw), cifarRecord, len(raw)/cifarRecord*cifarRecord)
		}
		for off := 0; off < len(raw); off += cifarRecord {
			if raw[off] >= 10 {
				return nil, fmt.Errorf("%s: offset %d: label %d of record %d is outside 0..9: not a CIFAR-10 batch (CIFAR-100's has two label bytes)", p, off, raw[off], off/cifarRecord)
			}
			s.Labels = append(s.Labels, raw[off])
			s.Pixels = append(s.Pixels, raw[off+1:off+cifarRecord]...)
		}
	}
	return s, nil
}
