// Package bench times the generated packages: inference and training
// steps on the workloads issue 6 compares with ONNX Runtime and PyTorch.
//
//	go test -run '^$' -bench . -benchtime 5x ./bench
package bench

import (
	"math/rand/v2"
	"testing"

	"github.com/resnetc/resnetc/generated/resnet18"
	"github.com/resnetc/resnetc/generated/resnet20"
	"github.com/resnetc/resnetc/generated/resnet50"
	"github.com/resnetc/resnetc/generated/resnet56"
)

func input(n int) []float32 {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

type forwarder interface {
	Forward(x []float32, batch int) ([]float32, error)
}

func benchForward(b *testing.B, m forwarder, imageFloats, batch int) {
	x := input(imageFloats * batch)
	if _, err := m.Forward(x, batch); err != nil { // warm: the arena is sized here
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Forward(x, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
}

func BenchmarkForwardResnet50Batch1(b *testing.B) {
	benchForward(b, resnet50.New(1), resnet50.Channels*resnet50.Height*resnet50.Width, 1)
}

func BenchmarkForwardResnet50Batch8(b *testing.B) {
	benchForward(b, resnet50.New(1), resnet50.Channels*resnet50.Height*resnet50.Width, 8)
}

func BenchmarkForwardResnet18Batch1(b *testing.B) {
	benchForward(b, resnet18.New(1), resnet18.Channels*resnet18.Height*resnet18.Width, 1)
}

func BenchmarkForwardResnet20Batch128(b *testing.B) {
	benchForward(b, resnet20.New(1), resnet20.Channels*resnet20.Height*resnet20.Width, 128)
}

func BenchmarkForwardResnet56Batch128(b *testing.B) {
	benchForward(b, resnet56.New(1), resnet56.Channels*resnet56.Height*resnet56.Width, 128)
}

func BenchmarkTrainStepResnet20Batch128(b *testing.B) {
	const batch = 128
	m := resnet20.New(1)
	tr := resnet20.NewTrainer(m, resnet20.SGD{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4})
	x := input(resnet20.Channels * resnet20.Height * resnet20.Width * batch)
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = i % resnet20.Classes
	}
	if _, err := tr.Step(x, labels, batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.Step(x, labels, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
}
