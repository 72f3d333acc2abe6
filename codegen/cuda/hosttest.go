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
	for step := range 2 {
		lc, err := ct.Step(x, labels, batch)
		if err != nil {
			t.Fatal(err)
		}
		lg, err := gt.Step(x, labels, batch)
		if err != nil {
			t.Fatal(err)
		}
		if e := math.Abs(float64(lg-lc)) / math.Abs(float64(lc)); e > tolerance {
			t.Fatalf("step %d: loss %v on the GPU, %v on the CPU", step, lg, lc)
		}
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
		if e := relErr(p.Data, refParams[i].Data); e > worst {
			worst, where = e, p.Name
		}
	}
	if worst > tolerance {
		t.Fatalf("after two steps, %s differs by %.2g (relative), above %g", where, worst, tolerance)
	}
	t.Logf("after two steps: worst tensor %s, relative error %.2g", where, worst)
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
