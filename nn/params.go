package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Param is one named tensor of a model, named as in a PyTorch state_dict.
// Float tensors use Data; BatchNorm's num_batches_tracked counter, an
// int64 scalar in PyTorch, uses Count.
type Param struct {
	Name      string
	Shape     []int
	Data      []float32
	Count     *int64
	Trainable bool
}

// Elems is the number of elements the shape holds (1 for a scalar).
func (p *Param) Elems() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

func (p *Param) shapeString() string { return shapeString(p.Shape) }

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Init is how a parameter starts before any weights are loaded.
type Init int

// Initializations, matching torchvision's ResNet: convolutions He-normal
// with fan_out (std sqrt(2 / (out*kh*kw))), BN gamma 1 and beta 0, running
// mean 0 and variance 1, and fc weight and bias uniform in +-1/sqrt(fan_in)
// as nn.Linear initializes them.
const (
	InitZero Init = iota
	InitOne
	InitHeFanOut     // conv weights
	InitUniformFanIn // fc weight and bias, conv bias
)

// Initialize fills p from r. fan is fan_out for InitHeFanOut and fan_in
// for InitUniformFanIn.
func Initialize(p []float32, how Init, fan int, r *rand.Rand) {
	switch how {
	case InitZero:
		clear(p)
	case InitOne:
		for i := range p {
			p[i] = 1
		}
	case InitHeFanOut:
		std := math.Sqrt(2 / float64(fan))
		for i := range p {
			p[i] = float32(r.NormFloat64() * std)
		}
	case InitUniformFanIn:
		bound := 1 / math.Sqrt(float64(fan))
		for i := range p {
			p[i] = float32((2*r.Float64() - 1) * bound)
		}
	}
}

// NewRand returns the deterministic generator models initialize from.
func NewRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed_2e57)) }
