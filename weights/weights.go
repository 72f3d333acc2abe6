// Package weights reads tensor files in the formats pretrained ResNets are
// published in: safetensors, and PyTorch checkpoints written by
// torch.save(state_dict), in both the zip format (PyTorch 1.6 and later)
// and the legacy one, with float32, float16, float64 and int64 storages.
// It lives apart from package nn so that an application that only loads
// safetensors does not vendor a pickle reader.
package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
	"github.com/resnetc/resnetc/nn"
)

// File is what Read found in a file.
type File struct {
	Format  string      // "safetensors" or "pytorch"
	Tensors []nn.Tensor // in the file's order; PyTorch storages converted to F32 (I64 for integers)
	Stored  []string    // the dtype each tensor had in the file, such as "F16"
}

// Read loads every tensor of a safetensors file or a PyTorch checkpoint.
func Read(path string) (*File, error) {
	head := make([]byte, 9)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	n, _ := f.Read(head)
	f.Close()
	if n == 9 && head[8] == '{' {
		ts, err := nn.ReadSafetensors(path)
		if err != nil {
			return nil, err
		}
		file := &File{Format: "safetensors", Tensors: ts}
		for _, t := range ts {
			file.Stored = append(file.Stored, t.DType)
		}
		return file, nil
	}
	return readPyTorch(path)
}

// Load reads path and loads it into params (see nn.LoadTensors).
func Load(path string, params []nn.Param) error {
	f, err := Read(path)
	if err != nil {
		return err
	}
	if err := nn.LoadTensors(f.Tensors, params); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// readPyTorch unpickles a checkpoint. The pickle reader is third-party
// code fed untrusted bytes, so a panic inside it becomes an error.
func readPyTorch(path string) (file *File, err error) {
	defer func() {
		if r := recover(); r != nil {
			file, err = nil, fmt.Errorf("%s: not a readable PyTorch checkpoint: %v", path, r)
		}
	}()
	if err := sniffPyTorch(path); err != nil {
		return nil, err
	}
	var obj any
	if zipped, _ := isZip(path); zipped {
		obj, err = loadZip(path)
	} else {
		obj, err = pytorch.Load(path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: not a safetensors file or a readable PyTorch checkpoint: %v", path, err)
	}
	// torch.save(model.state_dict()) pickles an OrderedDict of tensors, a
	// hand-made state dict is a dict, and a training checkpoint often nests
	// one under "state_dict" or "model".
	entries, ok := dictEntries(obj)
	if ok && len(entries) > 0 {
		if _, isTensor := entries[0].Value.(*pytorch.Tensor); !isTensor {
			ok = false
			for _, e := range entries {
				if key, _ := e.Key.(string); key == "state_dict" || key == "model" || key == "model_state_dict" {
					entries, ok = dictEntries(e.Value)
					break
				}
			}
		}
	}
	if !ok {
		return nil, fmt.Errorf("%s: the checkpoint holds a %T, not a state_dict (a dict of tensors)", path, obj)
	}
	file = &File{Format: "pytorch"}
	for _, entry := range entries {
		name, ok := entry.Key.(string)
		if !ok {
			return nil, fmt.Errorf("%s: a state_dict key is a %T, not a string", path, entry.Key)
		}
		t, ok := entry.Value.(*pytorch.Tensor)
		if !ok {
			return nil, fmt.Errorf("%s: %s is a %T, not a tensor", path, name, entry.Value)
		}
		tensor, stored, err := convert(name, t)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		file.Tensors = append(file.Tensors, tensor)
		file.Stored = append(file.Stored, stored)
	}
	return file, nil
}

// isZip reports whether path starts like a zip archive.
func isZip(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	return n == 4 && string(head) == "PK\x03\x04", nil
}

// legacyMagic is how a legacy (pre-zip) checkpoint starts: pickle
// protocol 2 and the long integer 0x1950a86a20f9469cfc6c.
var legacyMagic = []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

// sniffPyTorch rejects files that are not checkpoints, or zip checkpoints
// cut short, before the pickle reader sees them: it trusts its input.
func sniffPyTorch(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if bytes.HasPrefix(raw, legacyMagic) {
		return nil
	}
	if !bytes.HasPrefix(raw, []byte("PK\x03\x04")) {
		return fmt.Errorf("%s: not a safetensors file or a PyTorch checkpoint (neither a zip archive nor a legacy pickle)", path)
	}
	z, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return fmt.Errorf("%s: a PyTorch zip checkpoint, but unreadable (truncated?): %v", path, err)
	}
	for _, f := range z.File {
		if strings.HasSuffix(f.Name, "/data.pkl") || f.Name == "data.pkl" {
			return nil
		}
	}
	return fmt.Errorf("%s: a zip archive without data.pkl, not a PyTorch checkpoint", path)
}

// dictEntries lists the entries of a pickled dict or OrderedDict in order.
func dictEntries(obj any) ([]types.DictEntry, bool) {
	switch d := obj.(type) {
	case *types.OrderedDict:
		var out []types.DictEntry
		for e := d.List.Front(); e != nil; e = e.Next() {
			entry := e.Value.(*types.OrderedDictEntry)
			out = append(out, types.DictEntry{Key: entry.Key, Value: entry.Value})
		}
		return out, true
	case *types.Dict:
		return *d, true
	}
	return nil, false
}

// convert copies a (possibly strided) PyTorch tensor into a contiguous
// nn.Tensor.
func convert(name string, t *pytorch.Tensor) (nn.Tensor, string, error) {
	if len(t.Stride) != len(t.Size) {
		return nn.Tensor{}, "", fmt.Errorf("tensor %s: %d sizes but %d strides", name, len(t.Size), len(t.Stride))
	}
	elems := 1
	for _, d := range t.Size {
		if d < 0 {
			return nn.Tensor{}, "", fmt.Errorf("tensor %s: negative size %v", name, t.Size)
		}
		elems *= d
	}
	// index walks the tensor in row-major order and returns each storage index.
	index := func(i int) int {
		at := t.StorageOffset
		for d := len(t.Size) - 1; d >= 0; d-- {
			at += (i % t.Size[d]) * t.Stride[d]
			i /= t.Size[d]
		}
		return at
	}
	out := nn.Tensor{Name: name, Shape: append([]int{}, t.Size...)}
	var buf bytes.Buffer
	var stored string
	check := func(n int) error {
		for i := 0; i < elems; i++ {
			if at := index(i); at < 0 || at >= n {
				return fmt.Errorf("tensor %s: element %d lies outside its storage of %d", name, i, n)
			}
		}
		return nil
	}
	switch s := t.Source.(type) {
	case *pytorch.FloatStorage:
		stored = "F32"
		if err := check(len(s.Data)); err != nil {
			return out, "", err
		}
		for i := 0; i < elems; i++ {
			binary.Write(&buf, binary.LittleEndian, math.Float32bits(s.Data[index(i)]))
		}
	case *halfStorage:
		if err := check(len(s.bits)); err != nil {
			return out, "", err
		}
		half := make([]byte, 2*elems)
		for i := 0; i < elems; i++ {
			binary.LittleEndian.PutUint16(half[2*i:], s.bits[index(i)])
		}
		widened := make([]float32, elems)
		nn.DecodeFloats(widened, nn.Tensor{DType: "F16", Data: half})
		for _, v := range widened {
			binary.Write(&buf, binary.LittleEndian, math.Float32bits(v))
		}
		out.DType, out.Data = "F32", buf.Bytes()
		return out, "F16", nil
	case *pytorch.HalfStorage:
		// Only the legacy format reaches here, through gopickle, whose
		// float16 conversion is wrong for subnormals (see loadZip).
		return out, "", fmt.Errorf("tensor %s: float16 storage in the legacy checkpoint format is not supported; re-save it with torch.save in PyTorch 1.6 or later", name)
	case *pytorch.DoubleStorage:
		stored = "F64"
		if err := check(len(s.Data)); err != nil {
			return out, "", err
		}
		for i := 0; i < elems; i++ {
			binary.Write(&buf, binary.LittleEndian, math.Float32bits(float32(s.Data[index(i)])))
		}
	case *pytorch.LongStorage:
		stored = "I64"
		if err := check(len(s.Data)); err != nil {
			return out, "", err
		}
		for i := 0; i < elems; i++ {
			binary.Write(&buf, binary.LittleEndian, s.Data[index(i)])
		}
		out.DType, out.Data = "I64", buf.Bytes()
		return out, stored, nil
	default:
		return out, "", fmt.Errorf("tensor %s: unsupported storage %T", name, t.Source)
	}
	out.DType, out.Data = "F32", buf.Bytes()
	return out, stored, nil
}

// Convert writes the tensors of in (a checkpoint or a safetensors file) to
// the safetensors file out, float tensors as F32 and integers as I64, in
// the order of in.
func Convert(in, out string) (*File, error) {
	f, err := Read(in)
	if err != nil {
		return nil, err
	}
	ts := make([]nn.Tensor, len(f.Tensors))
	for i, t := range f.Tensors {
		if t.DType != "F32" && t.DType != "I64" {
			// A safetensors source may hold F16 or BF16: widen to F32.
			params := []nn.Param{{Name: t.Name, Shape: t.Shape, Data: make([]float32, elems(t.Shape))}}
			if err := nn.LoadTensors([]nn.Tensor{t}, params); err != nil {
				return nil, fmt.Errorf("%s: %v", in, err)
			}
			var buf bytes.Buffer
			for _, v := range params[0].Data {
				binary.Write(&buf, binary.LittleEndian, math.Float32bits(v))
			}
			t = nn.Tensor{Name: t.Name, DType: "F32", Shape: t.Shape, Data: buf.Bytes()}
		}
		ts[i] = t
	}
	if err := nn.WriteSafetensors(out, ts, map[string]string{"format": "pt"}); err != nil {
		return nil, err
	}
	return f, nil
}

func elems(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
