package train

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/resnetc/resnetc/dataset"
	"github.com/resnetc/resnetc/generated/resnet20"
	"github.com/resnetc/resnetc/nn"
)

func newNet(seed uint64) Net {
	m := resnet20.New(seed)
	return Net{Name: "resnet20", C: resnet20.Channels, H: resnet20.Height, W: resnet20.Width, Classes: resnet20.Classes,
		Model: m, Trainer: resnet20.NewTrainer(m, resnet20.SGD{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4})}
}

// synthetic is a small random set whose class shows in its mean
// brightness, so that training has something to learn.
func synthetic(name string, n int, seed uint64) *dataset.Set {
	r := rand.New(rand.NewPCG(seed, 3))
	s := &dataset.Set{Name: name, C: 3, H: 32, W: 32, Classes: 10}
	for range n {
		l := r.IntN(10)
		s.Labels = append(s.Labels, uint8(l))
		for range 3 * 32 * 32 {
			s.Pixels = append(s.Pixels, uint8(min(255, 20*l+r.IntN(60))))
		}
	}
	return s
}

func smallConfig(dir string) Config {
	cfg := Recipe(12)
	cfg.Batch, cfg.EvalEvery, cfg.EvalBatch, cfg.CheckpointEvery, cfg.Dir = 8, 3, 7, 4, dir
	cfg.WarmupIters, cfg.WarmupLR = 2, 0.01
	return cfg
}

func params(n Net) map[string][]float32 {
	out := map[string][]float32{}
	for _, p := range n.Model.Params() {
		if p.Data != nil {
			out[p.Name] = slices.Clone(p.Data)
		}
	}
	return out
}

// resumeAgainstWhole runs 12 iterations of a host net uninterrupted, and
// the same run of fresh() stopped after 6 (its last checkpoint at 4) as a
// kill would, then resumed in another fresh(); it requires the same
// weights, BN statistics, momentum and metrics, bit for bit, and returns
// the resumed net and its folder.
func resumeAgainstWhole(t *testing.T, d Data, fresh func() Net) (whole, resumed Net, dir string) {
	t.Helper()
	whole = newNet(5)
	rowsA, err := Run(whole, d, smallConfig(t.TempDir()), Quiet{})
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	cfg := smallConfig(dir)
	cfg.StopAfter = 6
	if _, err := Run(fresh(), d, cfg, Quiet{}); !errors.Is(err, ErrStopped) {
		t.Fatalf("first part: %v, want ErrStopped", err)
	}
	cfg.StopAfter, cfg.Resume = 0, true
	resumed = fresh()
	rowsB, err := Run(resumed, d, cfg, Quiet{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(params(whole), params(resumed)); diff != "" {
		t.Fatalf("weights after a resumed run differ (-uninterrupted +resumed):\n%.2000s", diff)
	}
	if diff := cmp.Diff(whole.Trainer.Momentum(), resumed.Trainer.Momentum()); diff != "" {
		t.Fatalf("momentum differs:\n%.2000s", diff)
	}
	strip := func(rows []Row) []Row {
		out := slices.Clone(rows)
		for i := range out {
			out[i].ImagesPerS, out[i].Seconds = 0, 0
		}
		return out
	}
	if diff := cmp.Diff(strip(rowsA), strip(rowsB)); diff != "" {
		t.Fatalf("metrics differ (-uninterrupted +resumed):\n%s", diff)
	}
	return whole, resumed, dir
}

// TestResumeMatchesUninterrupted: a killed run resumes on exactly the
// path of one that was never interrupted.
func TestResumeMatchesUninterrupted(t *testing.T) {
	d := Data{Train: synthetic("train", 40, 1), Val: synthetic("val", 9, 2), Test: synthetic("test", 11, 3)}
	whole, resumed, dir := resumeAgainstWhole(t, d, func() Net { return newNet(5) })
	onDisk, err := ReadMetrics(filepath.Join(dir, "metrics.csv"))
	if err != nil || len(onDisk) != 4 || onDisk[3].Iteration != 12 {
		t.Fatalf("metrics.csv after resuming: %d rows, %v", len(onDisk), err)
	}
	for _, f := range []string{"weights.safetensors", "curves.png", "checkpoint.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if whole.Trainer.Steps() != 12 || resumed.Trainer.Steps() != 12 {
		t.Fatalf("steps %d and %d, want 12", whole.Trainer.Steps(), resumed.Trainer.Steps())
	}
}

// TestSameSeedSameCurve: two runs from the same seed agree exactly.
func TestSameSeedSameCurve(t *testing.T) {
	d := Data{Train: synthetic("train", 24, 1), Test: synthetic("test", 5, 3)}
	cfg := smallConfig(t.TempDir())
	cfg.Iterations = 4
	a, err := Run(newNet(2), d, cfg, Quiet{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dir = t.TempDir()
	b, err := Run(newNet(2), d, cfg, Quiet{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i].TrainLoss != b[i].TrainLoss || a[i].TestError != b[i].TestError {
			t.Fatalf("row %d: loss %v and %v, test error %v and %v", i, a[i].TrainLoss, b[i].TrainLoss, a[i].TestError, b[i].TestError)
		}
	}
}

// TestCorruptCheckpoint: a damaged or foreign checkpoint is reported and
// leaves the model as it was.
func TestCorruptCheckpoint(t *testing.T) {
	dir := t.TempDir()
	net := newNet(1)
	path := filepath.Join(dir, "checkpoint.safetensors")
	cfg := smallConfig(dir)
	if err := SaveCheckpoint(path, net, cfg, 7, 1.5, Window{Steps: 2, Seen: 16, Wrong: 3, Loss: 4.25}); err != nil {
		t.Fatal(err)
	}
	if it, secs, w, err := LoadCheckpoint(path, newNet(9), cfg); err != nil || it != 7 || secs != 1.5 || w != (Window{2, 16, 3, 4.25}) {
		t.Fatalf("intact checkpoint: iteration %d, %v s, window %+v, %v", it, secs, w, err)
	}
	raw, _ := os.ReadFile(path)
	cases := []struct {
		name string
		raw  []byte
		cfg  func(*Config)
		want string
	}{
		{"flipped byte", func() []byte { b := slices.Clone(raw); b[len(b)-100] ^= 1; return b }(), nil, "corrupt or foreign checkpoint, not loaded: the tensor data's SHA-256 does not match"},
		{"truncated", raw[:len(raw)/2], nil, "corrupt or foreign checkpoint, not loaded"},
		{"empty", nil, nil, "corrupt or foreign checkpoint, not loaded: truncated"},
		{"other seed", raw, func(c *Config) { c.Seed = 99 }, "written with seed 1 and batch 8; resuming with seed 99 and batch 8 would not continue the same run"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "ckpt.safetensors")
			os.WriteFile(p, c.raw, 0o644)
			victim := newNet(3)
			before := params(victim)
			cfg := smallConfig(dir)
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			_, _, _, err := LoadCheckpoint(p, victim, cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("error %v, want it to name the file and contain %q", err, c.want)
			}
			if diff := cmp.Diff(before, params(victim)); diff != "" {
				t.Fatal("a refused checkpoint changed the model")
			}
		})
	}
}

func TestScheduleAndValidation(t *testing.T) {
	cfg := Config{LR: 0.1, Milestones: []int{10, 20}, WarmupIters: 3, WarmupLR: 0.01}
	got := []float64{cfg.lr(0), cfg.lr(3), cfg.lr(10), cfg.lr(25)}
	if diff := cmp.Diff([]float64{0.01, 0.1, 0.1 / 10, 0.1 / 100}, got); diff != "" {
		t.Fatalf("schedule (-want +got):\n%s", diff)
	}
	small := &dataset.Set{Name: "fmnist", C: 1, H: 28, W: 28, Classes: 10}
	_, err := Run(newNet(1), Data{Train: small, Test: small}, smallConfig(t.TempDir()), Quiet{})
	if err == nil || !strings.Contains(err.Error(), "no training images") {
		t.Fatalf("empty set: %v", err)
	}
	small.Labels, small.Pixels = []uint8{1}, make([]uint8, 28*28)
	_, err = Run(newNet(1), Data{Train: small, Test: small}, smallConfig(t.TempDir()), Quiet{})
	if err == nil || !strings.Contains(err.Error(), "fmnist holds 1x28x28 images, resnet20 takes 3x32x32") {
		t.Fatalf("wrong shape: %v", err)
	}
}

// mirrored is a net whose state lives in a second model, as a GPU
// package's does: Params and Momentum are a host copy that only Pull
// brings up to date, and Forward and Step only see what Push sent.
type mirrored struct {
	dev     *resnet20.Model
	devTr   *resnet20.Trainer
	host    *resnet20.Model
	hostMom []float32
}

type mirroredModel struct{ *mirrored }

func (m mirroredModel) Forward(x []float32, batch int) ([]float32, error) {
	return m.dev.Forward(x, batch)
}
func (m mirroredModel) Params() []nn.Param { return m.host.Params() }
func (m mirroredModel) WeightsChanged()    { m.host.WeightsChanged() }

type mirroredTrainer struct {
	*resnet20.Trainer
	m *mirrored
}

func (t mirroredTrainer) Momentum() []float32 { return t.m.hostMom }

func copyState(dst, src *resnet20.Model) {
	sp := src.Params()
	for i, p := range dst.Params() {
		if p.Count != nil {
			*p.Count = *sp[i].Count
		} else {
			copy(p.Data, sp[i].Data)
		}
	}
	dst.WeightsChanged()
}

func (m *mirrored) Pull() error {
	copyState(m.host, m.dev)
	copy(m.hostMom, m.devTr.Momentum())
	return nil
}

func (m *mirrored) Push() error {
	copyState(m.dev, m.host)
	copy(m.devTr.Momentum(), m.hostMom)
	return nil
}

// newMirroredNet starts the host copy from other weights than the device,
// so that a missing Pull or Push shows in the results.
func newMirroredNet(seed uint64) Net {
	dev := resnet20.New(seed)
	tr := resnet20.NewTrainer(dev, resnet20.SGD{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4})
	m := &mirrored{dev: dev, devTr: tr, host: resnet20.New(seed + 100), hostMom: make([]float32, len(tr.Momentum()))}
	return Net{Name: "resnet20", C: resnet20.Channels, H: resnet20.Height, W: resnet20.Width, Classes: resnet20.Classes,
		Model: mirroredModel{m}, Trainer: mirroredTrainer{tr, m}, Mirror: m}
}

// TestMirroredResume: a net whose state lives off the host (a GPU) saves
// checkpoints and final weights of its device state, and resumes on the
// same path, bit for bit, as a host net that was never interrupted.
func TestMirroredResume(t *testing.T) {
	d := Data{Train: synthetic("train", 40, 1), Test: synthetic("test", 11, 3)}
	whole, _, dir := resumeAgainstWhole(t, d, func() Net { return newMirroredNet(5) })
	saved := resnet20.New(0)
	if err := nn.LoadParams(filepath.Join(dir, "weights.safetensors"), saved.Params()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(params(whole), params(Net{Model: saved})); diff != "" {
		t.Fatalf("weights.safetensors is not the device's final state:\n%.2000s", diff)
	}
}
