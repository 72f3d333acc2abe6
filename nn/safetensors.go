package nn

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// The safetensors format: an 8-byte little-endian header length N, N bytes
// of JSON mapping tensor names to {dtype, shape, data_offsets}, then the
// raw little-endian data, offsets relative to its start.

// maxHeader bounds the JSON header; real files need a few hundred KiB.
const maxHeader = 100 << 20

type stEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// Tensor is one tensor read from a safetensors file.
type Tensor struct {
	Name  string
	DType string // "F32", "I64", ...
	Shape []int
	Data  []byte // raw little-endian bytes
}

var dtypeSize = map[string]int64{"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}

// ReadSafetensors reads and validates every tensor of a safetensors file,
// returned in file order of their data.
func ReadSafetensors(path string) ([]Tensor, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ts, err := ParseSafetensors(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ts, nil
}

// ParseSafetensors decodes a safetensors file held in memory.
func ParseSafetensors(raw []byte) ([]Tensor, error) {
	if len(raw) < 8 {
		return nil, fmt.Errorf("truncated: %d bytes, not even the 8-byte header length", len(raw))
	}
	n := binary.LittleEndian.Uint64(raw)
	if n > maxHeader {
		return nil, fmt.Errorf("header length %d is larger than %d bytes: not a safetensors file", n, maxHeader)
	}
	if uint64(len(raw)-8) < n {
		return nil, fmt.Errorf("truncated: the header needs %d bytes, the file has %d after the length", n, len(raw)-8)
	}
	var header map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw[8 : 8+n]))
	if err := dec.Decode(&header); err != nil {
		return nil, fmt.Errorf("bad header: %v", err)
	}
	data := raw[8+n:]
	var ts []Tensor
	var begins []int64
	for name, msg := range header {
		if name == "__metadata__" {
			continue
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("tensor %s: bad header entry: %v", name, err)
		}
		size, ok := dtypeSize[e.DType]
		if !ok {
			return nil, fmt.Errorf("tensor %s: unknown dtype %q", name, e.DType)
		}
		elems := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && elems > math.MaxInt64/int64(d)/8) {
				return nil, fmt.Errorf("tensor %s: bad shape %v", name, e.Shape)
			}
			elems *= int64(d)
		}
		begin, end := e.Offsets[0], e.Offsets[1]
		if begin < 0 || end < begin {
			return nil, fmt.Errorf("tensor %s: bad data offsets [%d, %d]", name, begin, end)
		}
		if end-begin != elems*size {
			return nil, fmt.Errorf("tensor %s: %s %v needs %d bytes, its data offsets [%d, %d] give %d",
				name, e.DType, e.Shape, elems*size, begin, end, end-begin)
		}
		if end > int64(len(data)) {
			return nil, fmt.Errorf("truncated: tensor %s needs data bytes [%d, %d), the file has %d", name, begin, end, len(data))
		}
		ts = append(ts, Tensor{Name: name, DType: e.DType, Shape: e.Shape, Data: data[begin:end]})
		begins = append(begins, begin)
	}
	order := make([]int, len(ts))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		if begins[order[a]] != begins[order[b]] {
			return begins[order[a]] < begins[order[b]]
		}
		return ts[order[a]].Name < ts[order[b]].Name
	})
	sorted := make([]Tensor, len(ts))
	for i, j := range order {
		sorted[i] = ts[j]
	}
	return sorted, nil
}

// WriteSafetensors writes tensors in the given order, atomically: to a
// temporary file in the same directory, renamed over path when complete.
func WriteSafetensors(path string, ts []Tensor, metadata map[string]string) (err error) {
	var hdr bytes.Buffer
	hdr.WriteByte('{')
	if len(metadata) > 0 {
		m, _ := json.Marshal(metadata)
		hdr.WriteString(`"__metadata__":`)
		hdr.Write(m)
		hdr.WriteByte(',')
	}
	var off int64
	for i, t := range ts {
		if i > 0 {
			hdr.WriteByte(',')
		}
		name, _ := json.Marshal(t.Name)
		shape, _ := json.Marshal(t.Shape)
		if t.Shape == nil {
			shape = []byte("[]")
		}
		fmt.Fprintf(&hdr, `%s:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`, name, t.DType, shape, off, off+int64(len(t.Data)))
		off += int64(len(t.Data))
	}
	hdr.WriteByte('}')
	// Pad the header with spaces so the data starts 8-byte aligned, as the
	// reference implementation does.
	for (8+hdr.Len())%8 != 0 {
		hdr.WriteByte(' ')
	}

	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(hdr.Len()))
	if _, err = f.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err = f.Write(hdr.Bytes()); err != nil {
		return err
	}
	for _, t := range ts {
		if _, err = f.Write(t.Data); err != nil {
			return err
		}
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// SaveParams writes a model's parameters to a safetensors file, float
// tensors as F32 and counters as I64, in the model's order.
func SaveParams(path string, params []Param) error {
	return WriteSafetensors(path, ParamTensors(params), map[string]string{"format": "pt"})
}

// ParamTensors encodes params as SaveParams writes them: float tensors as
// F32, counters as I64.
func ParamTensors(params []Param) []Tensor {
	ts := make([]Tensor, len(params))
	for i, p := range params {
		t := Tensor{Name: p.Name, Shape: p.Shape}
		if p.Count != nil {
			t.DType, t.Data = "I64", binary.LittleEndian.AppendUint64(nil, uint64(*p.Count))
		} else {
			t.DType, t.Data = "F32", make([]byte, 0, 4*len(p.Data))
			for _, v := range p.Data {
				t.Data = binary.LittleEndian.AppendUint32(t.Data, math.Float32bits(v))
			}
		}
		ts[i] = t
	}
	return ts
}

// SafetensorsMetadata returns the __metadata__ strings of a safetensors
// file held in memory and the offset at which its tensor data begins.
func SafetensorsMetadata(raw []byte) (map[string]string, int, error) {
	if len(raw) < 8 {
		return nil, 0, fmt.Errorf("truncated: %d bytes, not even the 8-byte header length", len(raw))
	}
	n := binary.LittleEndian.Uint64(raw)
	if n > maxHeader || uint64(len(raw)-8) < n {
		return nil, 0, fmt.Errorf("truncated or not safetensors: header length %d, file %d bytes", n, len(raw))
	}
	var header struct {
		Metadata map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(raw[8:8+n], &header); err != nil {
		return nil, 0, fmt.Errorf("bad header: %v", err)
	}
	return header.Metadata, 8 + int(n), nil
}

// LoadParams reads a safetensors file into params. The file must hold
// exactly the model's tensors with the model's shapes, F32 for float
// tensors and I64 for counters; otherwise nothing is changed and the error
// lists every missing and unexpected tensor, or names the tensor whose
// shape or dtype is wrong.
func LoadParams(path string, params []Param) error {
	ts, err := ReadSafetensors(path)
	if err != nil {
		return err
	}
	if err := LoadTensors(ts, params); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// LoadTensors copies ts into params after checking that they match (see
// CheckTensors); on a mismatch params are unchanged. Float tensors may be
// stored as F32, F16, BF16 or F64 and are converted to float32.
func LoadTensors(ts []Tensor, params []Param) error {
	if err := CheckTensors(ts, params); err != nil {
		return err
	}
	byName := make(map[string]Tensor, len(ts))
	for _, t := range ts {
		byName[t.Name] = t
	}
	for _, p := range params {
		t := byName[p.Name]
		if p.Count != nil {
			*p.Count = int64(binary.LittleEndian.Uint64(t.Data))
			continue
		}
		DecodeFloats(p.Data, t)
	}
	return nil
}

// floatDTypes are the dtypes a float parameter loads from.
var floatDTypes = map[string]bool{"F32": true, "F16": true, "BF16": true, "F64": true}

// DecodeFloats converts the raw data of a float tensor (F32, F64, BF16 or
// F16) to float32.
func DecodeFloats(dst []float32, t Tensor) {
	for i := range dst {
		switch t.DType {
		case "F32":
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		case "F64":
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:])))
		case "BF16":
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(t.Data[2*i:])) << 16)
		case "F16":
			dst[i] = halfToFloat(binary.LittleEndian.Uint16(t.Data[2*i:]))
		}
	}
}

// halfToFloat converts an IEEE 754 binary16 value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: renormalise
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// CheckTensors reports how ts fails to match params, or nil.
func CheckTensors(ts []Tensor, params []Param) error {
	byName := make(map[string]Tensor, len(ts))
	for _, t := range ts {
		byName[t.Name] = t
	}
	var missing, unexpected []string
	known := make(map[string]bool, len(params))
	for _, p := range params {
		known[p.Name] = true
		if _, ok := byName[p.Name]; !ok {
			missing = append(missing, p.Name)
		}
	}
	for _, t := range ts {
		if !known[t.Name] {
			unexpected = append(unexpected, t.Name)
		}
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("missing %d tensors: %s", len(missing), strings.Join(missing, ", ")))
	}
	if len(unexpected) > 0 {
		problems = append(problems, fmt.Sprintf("%d unexpected tensors: %s", len(unexpected), strings.Join(unexpected, ", ")))
	}
	for _, p := range params {
		t, ok := byName[p.Name]
		if !ok {
			continue
		}
		if p.Count != nil && t.DType != "I64" {
			problems = append(problems, fmt.Sprintf("tensor %s has dtype %s, want I64", p.Name, t.DType))
			continue
		}
		if p.Count == nil && !floatDTypes[t.DType] {
			problems = append(problems, fmt.Sprintf("tensor %s has dtype %s, want a float type (F32, F16, BF16 or F64)", p.Name, t.DType))
			continue
		}
		if !slices.Equal(t.Shape, p.Shape) {
			problems = append(problems, fmt.Sprintf("tensor %s has shape %s, the model needs %s", p.Name, shapeString(t.Shape), p.shapeString()))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}
