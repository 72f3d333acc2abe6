package cudagen

import "strings"

// hostTest is the host package's test: on a GPU it compares Forward and two
// training steps with the CPU package on the same weights and inputs
// (relative L2 error 1e-4), and times both.
func (g *gen) hostTest() string {
	s := strings.ReplaceAll(hostTestSource, "PKG", g.opt.Package)
	s = strings.ReplaceAll(s, "CPUIMPORT", g.opt.CPUImport)
	return strings.ReplaceAll(s, "HEADER", g.header)
}

const hostTestSource = `// HEADER

//go:build cuda

package cuda

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	cpu "CPUIMPORT"
)

// tolerance is the relative L2 error allowed between the GPU and the CPU
// package in float32.
const tolerance = 1e-4

func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func batchOf(n int, seed uint64) ([]float32, []int) {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*imageFloats)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = r.IntN(cpu.Classes)
	}
	return x, labels
}

func TestMatchesCPU(t *testing.T) {
	ref := cpu.New(7)
	m, err := New(ref)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const batch = 3
	x, labels := batchOf(batch, 5)
	want, err := ref.Forward(x, batch)
	if err != nil {
		t.Fatal(err)
	}
	want = append([]float32(nil), want...)
	got, err := m.Forward(x, batch)
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(got, want); e > tolerance {
		t.Fatalf("Forward: relative error %.2g against the CPU package, above %g", e, tolerance)
	} else {
		t.Logf("Forward: relative error %.2g", e)
	}

	opt := cpu.SGD{LR: 0.05, Momentum: 0.9, WeightDecay: 1e-4}
	ct := cpu.NewTrainer(ref, opt)
	gt, err := NewTrainer(m, opt)
	if err != nil {
		t.Fatal(err)
	}
	floor, lossFloor := chaosFloor(t, x, labels, batch, opt)
	for step := range 2 {
		lc, err := ct.Step(x, labels, batch)
		if err != nil {
			t.Fatal(err)
		}
		lg, err := gt.Step(x, labels, batch)
		if err != nil {
			t.Fatal(err)
		}
		e := math.Abs(float64(lg-lc)) / math.Abs(float64(lc))
		if limit := math.Max(tolerance, 2*lossFloor[step]); e > limit {
			t.Fatalf("step %d: loss %v on the GPU, %v on the CPU: relative difference %.2g above %.2g (the CPU's own floor %.2g)", step, lg, lc, e, limit, lossFloor[step])
		}
		t.Logf("step %d: loss %v on the GPU, %v on the CPU (relative difference %.2g, CPU floor %.2g)", step, lg, lc, e, lossFloor[step])
	}
	back := cpu.New(0)
	if err := m.Download(back); err != nil {
		t.Fatal(err)
	}
	worst, where := 0.0, ""
	refParams := ref.Params()
	for i, p := range back.Params() {
		if p.Count != nil {
			if *p.Count != *refParams[i].Count {
				t.Errorf("%s: %d on the GPU, %d on the CPU", p.Name, *p.Count, *refParams[i].Count)
			}
			continue
		}
		e := relErr(p.Data, refParams[i].Data)
		if limit := math.Max(tolerance, 2*floor[p.Name]); e > limit {
			t.Errorf("after two steps, %s differs by %.2g (relative), above %.2g (the CPU's own floor there is %.2g)", p.Name, e, limit, floor[p.Name])
		}
		if e > worst {
			worst, where = e, p.Name
		}
	}
	t.Logf("after two steps: worst tensor %s, relative error %.2g (CPU floor there %.2g)", where, worst, floor[where])

	// What a training loop reads back: the last batch's logits and the
	// momentum, in the CPU package's layout.
	if e, limit := relErr(gt.Logits(), ct.Logits()), math.Max(tolerance, 2*floor["logits"]); len(gt.Logits()) != len(ct.Logits()) || e > limit {
		t.Errorf("Logits: %d values, relative error %.2g against the CPU's %d (limit %.2g)", len(gt.Logits()), e, len(ct.Logits()), limit)
	}
	mom := make([]float32, len(ct.Momentum()))
	if err := gt.ReadMomentum(mom); err != nil {
		t.Fatal(err)
	}
	if e, limit := relErr(mom, ct.Momentum()), math.Max(tolerance, 2*floor["momentum"]); e > limit {
		t.Errorf("momentum: relative error %.2g against the CPU (limit %.2g)", e, limit)
	}
	if gt.Steps() != ct.Steps() {
		t.Errorf("Steps: %d on the GPU, %d on the CPU", gt.Steps(), ct.Steps())
	}
	if err := gt.ReadMomentum(mom[1:]); err == nil {
		t.Errorf("ReadMomentum took a buffer one float short")
	}

	// A checkpoint resumed on the GPU: the host's state goes up unchanged.
	if err := m.Upload(ref); err != nil {
		t.Fatal(err)
	}
	if err := gt.WriteMomentum(ct.Momentum()); err != nil {
		t.Fatal(err)
	}
	if err := m.Download(back); err != nil {
		t.Fatal(err)
	}
	for i, p := range back.Params() {
		if p.Count == nil && !slices.Equal(p.Data, refParams[i].Data) {
			t.Errorf("%s changed on its way up and back", p.Name)
		}
	}
	if err := gt.ReadMomentum(mom); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(mom, ct.Momentum()) {
		t.Errorf("the momentum changed on its way up and back")
	}
}

// chaosFloor is how far the CPU package's own losses and weights move over the same
// two steps when the input moves by 1e-6 (relative), the most of three
// tries, per tensor, the last logits and the momentum. ReLU and max pooling make float32 training jump where
// a value lies within rounding of a kink, so two float32 implementations
// that sum in different orders can only agree to about this; where no
// value is that close, the floor is tiny and the 1e-4 tolerance rules.
func chaosFloor(t *testing.T, x []float32, labels []int, batch int, opt cpu.SGD) (map[string]float64, [2]float64) {
	t.Helper()
	var losses [2]float32
	run := func(x []float32) map[string][]float32 {
		m := cpu.New(7)
		tr := cpu.NewTrainer(m, opt)
		for step := range 2 {
			l, err := tr.Step(x, labels, batch)
			if err != nil {
				t.Fatal(err)
			}
			losses[step] = l
		}
		out := map[string][]float32{
			"logits":   append([]float32(nil), tr.Logits()...),
			"momentum": append([]float32(nil), tr.Momentum()...),
		}
		for _, p := range m.Params() {
			if p.Count == nil {
				out[p.Name] = append([]float32(nil), p.Data...)
			}
		}
		return out
	}
	base := run(x)
	baseLoss := losses
	floor := map[string]float64{}
	var lossFloor [2]float64
	for try := range 3 {
		r := rand.New(rand.NewPCG(uint64(try), 9))
		xj := make([]float32, len(x))
		for i, v := range x {
			xj[i] = v * float32(1+1e-6*r.NormFloat64())
		}
		for name, data := range run(xj) {
			floor[name] = math.Max(floor[name], relErr(data, base[name]))
		}
		for step := range losses {
			lossFloor[step] = math.Max(lossFloor[step], math.Abs(float64(losses[step]-baseLoss[step]))/math.Abs(float64(baseLoss[step])))
		}
	}
	return floor, lossFloor
}

// benchBatch is issue 8's batch: 64 for the ImageNet nets, 128 for CIFAR.
func benchBatch() int {
	if cpu.Height >= 224 {
		return 64
	}
	return 128
}

func BenchmarkForward(b *testing.B) {
	m, err := New(cpu.New(1))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	n := benchBatch()
	x, _ := batchOf(n, 1)
	if _, err := m.Forward(x, n); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := m.Forward(x, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/op")
}

func BenchmarkStep(b *testing.B) {
	m, err := New(cpu.New(1))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	tr, err := NewTrainer(m, cpu.SGD{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4})
	if err != nil {
		b.Fatal(err)
	}
	n := benchBatch()
	x, labels := batchOf(n, 1)
	if _, err := tr.Step(x, labels, n); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := tr.Step(x, labels, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/op")
}
`
