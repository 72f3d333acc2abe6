package peak

import (
	"math/rand/v2"
	"testing"

	"github.com/resnetc/resnetc/nn"
)

// BenchmarkGemm1024OfPeak is issue 6's kernel target measured in one run:
// nn.Gemm on 1024 x 1024 x 1024 on one core, and this package's FMA
// ceiling on the same core just before and after, reported as GFLOP/s
// and as a percentage of the better ceiling:
//
//	go test -run '^$' -bench Gemm1024OfPeak -count 3 ./bench/peak
func BenchmarkGemm1024OfPeak(b *testing.B) {
	if !available() {
		b.Skip("no AVX-512: no ceiling to compare with")
	}
	defer nn.SetThreads(nn.SetThreads(1))
	const n = 1024
	r := rand.New(rand.NewPCG(1, 2))
	x, y, z := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range x {
		x[i], y[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	ws := nn.NewWorkspace(0)
	nn.Gemm(ws, false, false, n, n, n, x, n, y, n, 0, z, n) // warm
	before := GFLOPS(1, 5)
	b.ResetTimer()
	for range b.N {
		nn.Gemm(ws, false, false, n, n, n, x, n, y, n, 0, z, n)
	}
	b.StopTimer()
	ceiling := max(before, GFLOPS(1, 5))
	gflops := 2 * n * n * n * float64(b.N) / b.Elapsed().Seconds() / 1e9
	b.ReportMetric(gflops, "GFLOP/s")
	b.ReportMetric(ceiling, "peak-GFLOP/s")
	b.ReportMetric(100*gflops/ceiling, "%-of-peak")
}
