package nn

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testParams() []Param {
	var count int64 = 7
	return []Param{
		{Name: "conv1.weight", Shape: []int{2, 1, 3, 3}, Data: make([]float32, 18), Trainable: true},
		{Name: "bn1.weight", Shape: []int{2}, Data: []float32{1.5, -2}, Trainable: true},
		{Name: "bn1.num_batches_tracked", Shape: []int{}, Count: &count},
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	ps := testParams()
	for i := range ps[0].Data {
		ps[0].Data[i] = float32(i) * 0.25
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := SaveParams(path, ps); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if n := binary.LittleEndian.Uint64(raw); (8+n)%8 != 0 || !strings.Contains(string(raw[8:8+n]), `"conv1.weight":{"dtype":"F32","shape":[2,1,3,3],"data_offsets":[0,72]}`) {
		t.Errorf("header: %s", raw[8:8+n])
	}
	back := testParams()
	if err := LoadParams(path, back); err != nil {
		t.Fatal(err)
	}
	if back[0].Data[17] != 4.25 || back[1].Data[1] != -2 || *back[2].Count != 7 {
		t.Errorf("round trip lost values: %v %v %d", back[0].Data, back[1].Data, *back[2].Count)
	}
	// Saving twice gives the same bytes.
	path2 := filepath.Join(t.TempDir(), "w2.safetensors")
	SaveParams(path2, ps)
	raw2, _ := os.ReadFile(path2)
	if string(raw) != string(raw2) {
		t.Error("saving is not deterministic")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, ts []Tensor) string {
		p := filepath.Join(dir, name)
		if err := WriteSafetensors(p, ts, nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f32 := func(n int) []byte { return make([]byte, 4*n) }
	good := []Tensor{
		{Name: "conv1.weight", DType: "F32", Shape: []int{2, 1, 3, 3}, Data: f32(18)},
		{Name: "bn1.weight", DType: "F32", Shape: []int{2}, Data: f32(2)},
		{Name: "bn1.num_batches_tracked", DType: "I64", Shape: []int{}, Data: make([]byte, 8)},
	}
	cases := map[string]struct {
		ts   []Tensor
		want string
	}{
		"missing": {good[:1], "missing 2 tensors: bn1.weight, bn1.num_batches_tracked"},
		"extra": {append(append([]Tensor{}, good...), Tensor{Name: "fc.bias", DType: "F32", Shape: []int{1}, Data: f32(1)}),
			"1 unexpected tensors: fc.bias"},
		"shape": {[]Tensor{good[0], {Name: "bn1.weight", DType: "F32", Shape: []int{3}, Data: f32(3)}, good[2]},
			"tensor bn1.weight has shape [3], the model needs [2]"},
		"dtype": {[]Tensor{{Name: "conv1.weight", DType: "I32", Shape: []int{2, 1, 3, 3}, Data: make([]byte, 72)}, good[1], good[2]},
			"tensor conv1.weight has dtype I32, want a float type (F32, F16, BF16 or F64)"},
	}
	for name, c := range cases {
		ps := testParams()
		err := LoadParams(write(name+".safetensors", c.ts), ps)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
		if ps[1].Data[0] != 1.5 {
			t.Errorf("%s: a failed load changed the model", name)
		}
	}
	full, _ := os.ReadFile(write("full.safetensors", good))
	for _, cut := range []int{0, 5, 20, len(full) - 1} {
		p := filepath.Join(dir, "cut.safetensors")
		os.WriteFile(p, full[:cut], 0o644)
		if err := LoadParams(p, testParams()); err == nil || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
	if err := LoadParams(filepath.Join(dir, "nope"), testParams()); err == nil {
		t.Error("missing file accepted")
	}
}

func TestHalfAndBFloat(t *testing.T) {
	// 1.5, -2, 2^-24 (the smallest subnormal), 65504 (the largest half).
	half := []uint16{0x3e00, 0xc000, 0x0001, 0x7bff}
	want := []float32{1.5, -2, 5.9604645e-08, 65504}
	data := make([]byte, 8)
	for i, h := range half {
		data[2*i], data[2*i+1] = byte(h), byte(h>>8)
	}
	got := make([]float32, 4)
	DecodeFloats(got, Tensor{DType: "F16", Data: data})
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("half %#04x = %g, want %g", half[i], got[i], want[i])
		}
	}
	DecodeFloats(got[:1], Tensor{DType: "BF16", Data: []byte{0xc0, 0x3f}}) // 1.5 in bfloat16
	if got[0] != 1.5 {
		t.Errorf("bfloat16 1.5 = %g", got[0])
	}
}
