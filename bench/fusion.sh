#!/usr/bin/env bash
# Times resnet50 inference with and without fusion, in one run on one
# machine: generated/resnet50 (BN folded, add and ReLU in the conv
# epilogue) against the same spec compiled with -fuse=false into a
# temporary package. Usage: bench/fusion.sh [benchtime, default 5x]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=bench/unfused_tmp
trap 'rm -rf "$dir"' EXIT
rm -rf "$dir"
go run ./cmd/resnetc -fuse=false -name resnet50unfused specs/resnet50.rn -o "$dir" >/dev/null
rm "$dir/resnet50unfused/model_test.go" # its checks are the fused package's; only time it here
cat > "$dir/resnet50unfused/fusion_test.go" <<'GO'
package resnet50unfused

import (
	"math/rand/v2"
	"testing"

	"github.com/resnetc/resnetc/generated/resnet50"
)

func input() []float32 {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, imageFloats)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

type forwarder interface {
	Forward(x []float32, batch int) ([]float32, error)
}

func bench(b *testing.B, m forwarder) {
	x := input()
	m.Forward(x, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Forward(x, 1)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
}

func BenchmarkResnet50Batch1Unfused(b *testing.B) { bench(b, New(1)) }
func BenchmarkResnet50Batch1Fused(b *testing.B)   { bench(b, resnet50.New(1)) }

// TestSameLogits checks that fusion changes nothing beyond rounding.
func TestSameLogits(t *testing.T) {
	x := input()
	a, _ := New(1).Forward(x, 1)
	a = append([]float32(nil), a...)
	b, _ := resnet50.New(1).Forward(x, 1)
	var num, den float64
	for i := range a {
		num += float64(a[i]-b[i]) * float64(a[i]-b[i])
		den += float64(b[i]) * float64(b[i])
	}
	if num > 1e-10*den {
		t.Errorf("fused and unfused logits differ: relative error %g", num/den)
	}
}
GO
go test -count=1 -run TestSameLogits -bench . -benchtime "${1:-5x}" "./$dir/resnet50unfused"
