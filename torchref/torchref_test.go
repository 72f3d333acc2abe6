// Package torchref compares resnetc's generated packages with PyTorch:
// the same weights and inputs must give the same logits (eval and train
// mode), loss, parameter gradients, and weights and BN running statistics
// after one SGD step. The reference data is produced at test time by
// scripts/torch_reference.py with Debian's python3-torch.
package torchref

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/resnetc/resnetc/generated/plain20"
	"github.com/resnetc/resnetc/generated/plain56"
	"github.com/resnetc/resnetc/generated/resnet18"
	"github.com/resnetc/resnetc/generated/resnet20"
	"github.com/resnetc/resnetc/generated/resnet50"
	"github.com/resnetc/resnetc/generated/resnet56"
	"github.com/resnetc/resnetc/nn"
	"github.com/resnetc/resnetc/nn/nntest"
)

// Tolerances on the relative error ||ours - torch|| / ||torch|| of each
// tensor (see check for where PyTorch's own floor raises them).
const (
	tolLogits = 1e-4 // eval- and train-mode logits, and the loss
	tolGrad   = 1e-3 // every parameter gradient
	tolAfter  = 1e-5 // every weight and running statistic after the SGD step
)

const (
	lr, momentum, weightDecay = 0.1, 0.9, 1e-4
)

type model struct {
	name       string
	newModel   func() nntest.Model
	newTrainer func(m nntest.Model) nntest.Trainer
}

var models = []model{
	{"resnet18", func() nntest.Model { return resnet18.New(0) }, func(m nntest.Model) nntest.Trainer {
		return resnet18.NewTrainer(m.(*resnet18.Model), resnet18.SGD{LR: lr, Momentum: momentum, WeightDecay: weightDecay})
	}},
	{"resnet50", func() nntest.Model { return resnet50.New(0) }, func(m nntest.Model) nntest.Trainer {
		return resnet50.NewTrainer(m.(*resnet50.Model), resnet50.SGD{LR: lr, Momentum: momentum, WeightDecay: weightDecay})
	}},
	{"resnet20", func() nntest.Model { return resnet20.New(0) }, func(m nntest.Model) nntest.Trainer {
		return resnet20.NewTrainer(m.(*resnet20.Model), resnet20.SGD{LR: lr, Momentum: momentum, WeightDecay: weightDecay})
	}},
	{"resnet56", func() nntest.Model { return resnet56.New(0) }, func(m nntest.Model) nntest.Trainer {
		return resnet56.NewTrainer(m.(*resnet56.Model), resnet56.SGD{LR: lr, Momentum: momentum, WeightDecay: weightDecay})
	}},
	{"plain20", func() nntest.Model { return plain20.New(0) }, func(m nntest.Model) nntest.Trainer {
		return plain20.NewTrainer(m.(*plain20.Model), plain20.SGD{LR: lr, Momentum: momentum, WeightDecay: weightDecay})
	}},
	{"plain56", func() nntest.Model { return plain56.New(0) }, func(m nntest.Model) nntest.Trainer {
		return plain56.NewTrainer(m.(*plain56.Model), plain56.SGD{LR: lr, Momentum: momentum, WeightDecay: weightDecay})
	}},
}

var (
	fixturesOnce sync.Once
	fixturesDir  string
	fixturesErr  error
	fixturesTemp bool // fixturesDir was made by the test and is removed after it
)

// fixtures runs the PyTorch script once for all tests.
func fixtures(t *testing.T) string {
	fixturesOnce.Do(func() {
		// TORCHREF_DIR reuses reference data made earlier by the script,
		// to save its minute while working on the comparison itself.
		if d := os.Getenv("TORCHREF_DIR"); d != "" {
			fixturesDir = d
			return
		}
		var names []string
		for _, m := range models {
			names = append(names, m.name)
		}
		fixturesDir, fixturesErr = runScript("torch_reference.py", names...)
		fixturesTemp = fixturesDir != ""
	})
	needPyTorch(t, fixturesErr)
	return fixturesDir
}

// runScript runs one of the repository's PyTorch scripts with a new
// temporary directory as its first argument and returns the directory.
func runScript(script string, args ...string) (string, error) {
	dir, err := os.MkdirTemp("", "torchref")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("/usr/bin/python3", append([]string{filepath.Join("..", "scripts", script), dir}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return dir, fmt.Errorf("scripts/%s: %v\n%s", script, err, out)
	}
	return dir, nil
}

// needPyTorch fails the test in CI, and skips it elsewhere, when the
// reference could not be made.
func needPyTorch(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("PyTorch reference unavailable in CI: %v", err)
	}
	t.Skipf("PyTorch reference unavailable (install python3-torch and python3-torchvision): %v", err)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixturesTemp {
		os.RemoveAll(fixturesDir)
	}
	os.Exit(code)
}

type tensors map[string]nn.Tensor

func load(t *testing.T, path string) tensors {
	ts, err := nn.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	out := tensors{}
	for _, x := range ts {
		out[x.Name] = x
	}
	return out
}

func (ts tensors) floats(t *testing.T, name string) []float32 {
	x, ok := ts[name]
	if !ok || x.DType != "F32" {
		t.Fatalf("reference lacks F32 tensor %s", name)
	}
	f := make([]float32, len(x.Data)/4)
	for i := range f {
		f[i] = math.Float32frombits(binary.LittleEndian.Uint32(x.Data[4*i:]))
	}
	return f
}

func (ts tensors) floor(t *testing.T, name string) float64 {
	return float64(ts.floats(t, "floor."+name)[0])
}

func (ts tensors) ints(t *testing.T, name string) []int {
	x, ok := ts[name]
	if !ok || x.DType != "I64" {
		t.Fatalf("reference lacks I64 tensor %s", name)
	}
	v := make([]int, len(x.Data)/8)
	for i := range v {
		v[i] = int(int64(binary.LittleEndian.Uint64(x.Data[8*i:])))
	}
	return v
}

// relErr is ||a - b|| / ||b||, or ||a - b|| when b is zero.
func relErr(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// check compares our tensors with PyTorch's. Where PyTorch's own result
// moves by more than the tolerance when the input moves by 1e-6 (the floor
// the script measures: kinks of ReLU and max pooling crossed by rounding),
// two float32 implementations cannot agree better, and the tolerance for
// that tensor becomes twice the floor.
type check struct {
	tol       float64
	worst     float64 // largest ||ours-torch|| / ||torch|| seen
	worstName string
	floor     float64 // PyTorch's floor at the worst tensor
	raised    int     // tensors whose tolerance the floor raised
	within    int     // tensors within the plain tolerance
	total     int
	failures  []string
}

func (c *check) add(name string, ours, torch []float32, floor float64) {
	e := relErr(ours, torch)
	if e > c.worst || c.worstName == "" {
		c.worst, c.worstName, c.floor = e, name, floor
	}
	if 2*floor > c.tol {
		c.raised++
	}
	c.total++
	if e <= c.tol {
		c.within++
	}
	if e > max(c.tol, 2*floor) {
		c.failures = append(c.failures, fmt.Sprintf("%s: relative error %.3g exceeds the tolerance %g (PyTorch's floor %.3g)", name, e, c.tol, floor))
	}
}

func (c *check) String() string {
	s := fmt.Sprintf("%.1e %s (floor %.0e)", c.worst, c.worstName, c.floor)
	if c.total > 1 {
		s += fmt.Sprintf("; %d/%d within %g", c.within, c.total, c.tol)
	}
	return s
}

// largerBatches are the models also compared at larger batches, as
// scripts/torch_reference.py's LARGER_BATCHES: for resnet20, 16 images
// give the first stage's input gradients F(4x4, 3x3) (nn's gradInputFor),
// 128 the forward pass of the 32- and 64-channel stages too (trainFor);
// for resnet18, 6 give eval mode's 512-channel convs F(4x4, 3x3) (their
// ConvDims.Winograd4From).
var largerBatches = map[string][]int{"resnet20": {16, 128}, "resnet18": {6}}

func TestAgainstPyTorch(t *testing.T) {
	dir := fixtures(t)
	var summary []string
	for _, md := range models {
		batches := append([]int{1, 4}, largerBatches[md.name]...)
		for _, batch := range batches {
			t.Run(fmt.Sprintf("%s/batch%d", md.name, batch), func(t *testing.T) {
				ref := load(t, filepath.Join(dir, fmt.Sprintf("%s_b%d.safetensors", md.name, batch)))
				m := md.newModel()
				if err := m.LoadWeights(filepath.Join(dir, md.name+".weights.safetensors")); err != nil {
					t.Fatal(err)
				}
				x, labels := ref.floats(t, "input"), ref.ints(t, "labels")

				eval, train, loss := &check{tol: tolLogits}, &check{tol: tolLogits}, &check{tol: tolLogits}
				grad, after := &check{tol: tolGrad}, &check{tol: tolAfter}
				out, err := m.Forward(x, batch)
				if err != nil {
					t.Fatal(err)
				}
				eval.add("logits", out, ref.floats(t, "logits_eval"), ref.floor(t, "logits_eval"))

				tr := md.newTrainer(m)
				l, err := tr.Step(x, labels, batch)
				if err != nil {
					t.Fatal(err)
				}
				loss.add("loss", []float32{l}, ref.floats(t, "loss"), ref.floor(t, "loss"))
				train.add("logits", tr.Logits(), ref.floats(t, "logits_train"), ref.floor(t, "logits_train"))
				for _, g := range tr.Grads() {
					grad.add(g.Name, g.Data, ref.floats(t, "grad."+g.Name), ref.floor(t, "grad."+g.Name))
				}
				for _, p := range m.Params() {
					if p.Count != nil {
						if want := ref.ints(t, "after."+p.Name)[0]; int(*p.Count) != want {
							t.Errorf("%s = %d after the step, PyTorch has %d", p.Name, *p.Count, want)
						}
						continue
					}
					after.add(p.Name, p.Data, ref.floats(t, "after."+p.Name), ref.floor(t, "after."+p.Name))
				}
				for _, c := range []struct {
					what string
					c    *check
				}{{"eval logits", eval}, {"train logits", train}, {"loss", loss}, {"gradient", grad}, {"after the step", after}} {
					for _, f := range c.c.failures {
						t.Errorf("%s: %s", c.what, f)
					}
				}
				summary = append(summary, fmt.Sprintf("| %s | %d | %s | %s | %s | %s | %s |",
					md.name, batch, eval, train, loss, grad, after))
			})
		}
	}
	sort.Strings(summary)
	t.Logf("largest relative error ||ours-torch||/||torch|| over the tensors of each kind, the tensor, PyTorch's floor there,\nand how many tensors are within the plain tolerance:\n| model | batch | eval logits | train logits | loss | gradients | after SGD step |\n|---|---|---|---|---|---|---|\n%s",
		strings.Join(summary, "\n"))
}
