// Package train runs the paper's training recipe on any package resnetc
// generated: SGD with momentum and weight decay, a step learning-rate
// schedule with optional warm-up, pad-and-crop and flip augmentation,
// per-pixel mean subtraction, a held-out validation split, evaluation on
// the test set, metrics to CSV, checkpoints that resume the same
// trajectory, and Fig. 6-style plots.
package train

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/resnetc/resnetc/dataset"
	"github.com/resnetc/resnetc/nn"
)

// Model is what training needs of a generated package's *Model.
type Model interface {
	Forward(x []float32, batch int) ([]float32, error)
	Params() []nn.Param
	WeightsChanged()
}

// Trainer is what training needs of a generated package's *Trainer.
type Trainer interface {
	Step(x []float32, labels []int, batch int) (float32, error)
	Logits() []float32
	SetLR(lr float32)
	Momentum() []float32
	Steps() int
	SetSteps(n int)
}

// Mirror keeps a host copy of state that lives elsewhere, as a GPU
// package's weights and momentum do: Pull copies the device's state into
// Model.Params and Trainer.Momentum, Push copies them to the device.
type Mirror interface {
	Pull() error
	Push() error
}

// Net is a generated model with its trainer and input shape.
type Net struct {
	Name             string
	C, H, W, Classes int
	Model            Model
	Trainer          Trainer
	// Mirror is nil when Model and Trainer hold their state in host
	// memory; otherwise Run pulls before it reads Params or Momentum
	// (checkpoints, the final weights) and pushes after a resume.
	Mirror Mirror
}

// pull brings a mirrored net's state to the host.
func (n Net) pull() error {
	if n.Mirror == nil {
		return nil
	}
	if err := n.Mirror.Pull(); err != nil {
		return fmt.Errorf("train: reading %s's state back from the device: %w", n.Name, err)
	}
	return nil
}

// Config is the recipe. The zero value of an optional field leaves that
// feature off; Recipe returns the paper's CIFAR settings.
type Config struct {
	Iterations      int     // SGD steps in all
	Batch           int     // images per step
	LR              float64 // initial learning rate
	Milestones      []int   // iterations at which the rate is divided by 10
	WarmupIters     int     // iterations run at WarmupLR first (ResNet-110)
	WarmupLR        float64 //
	Pad             int     // zero padding before the random crop (4)
	Flip            bool    // random horizontal flips
	Seed            uint64  // data order and augmentation
	EvalEvery       int     // iterations between evaluations and CSV rows
	EvalBatch       int     // images per Forward call when evaluating
	CheckpointEvery int     // iterations between checkpoints (0: only at the end)
	Dir             string  // metrics.csv, checkpoint.safetensors, weights.safetensors, curves.png
	Resume          bool    // continue from Dir's checkpoint if there is one

	// StopAfter makes Run return ErrStopped after this many iterations of
	// this call, as if the process had been killed there (tests).
	StopAfter int
}

// Recipe is the paper's CIFAR-10 recipe (section 4.2) for iterations
// steps: batch 128, LR 0.1 divided by 10 at 50% and 75% of the run (32k
// and 48k of 64k), pad 4 and crop, flips.
func Recipe(iterations int) Config {
	return Config{Iterations: iterations, Batch: 128, LR: 0.1,
		Milestones: []int{iterations / 2, iterations * 3 / 4}, Pad: 4, Flip: true, Seed: 1,
		EvalEvery: max(1, iterations/50), EvalBatch: 500}
}

// ErrStopped is returned when Config.StopAfter ends a run early.
var ErrStopped = errors.New("train: stopped early (StopAfter)")

// Data are the image sets, already fitted to the network's input shape.
// Val may be nil.
type Data struct {
	Train, Val, Test *dataset.Set
}

// Row is one line of metrics.csv.
type Row struct {
	Iteration  int
	Epoch      float64
	LR         float64
	TrainLoss  float64 // mean over the iterations since the previous row
	TrainError float64 // fraction of those (augmented, train-mode) images misclassified
	ValError   float64 // -1 without a validation set
	TestError  float64
	ImagesPerS float64
	Seconds    float64 // wall time of this run so far, resumed parts included
}

// lr is the schedule: warm-up, then LR divided by 10 at each milestone.
func (c *Config) lr(it int) float64 {
	if it < c.WarmupIters {
		return c.WarmupLR
	}
	r := c.LR
	for _, m := range c.Milestones {
		if it >= m {
			r /= 10
		}
	}
	return r
}

func (c *Config) validate(net Net, d Data) error {
	switch {
	case c.Iterations <= 0:
		return fmt.Errorf("train: %d iterations", c.Iterations)
	case c.Batch <= 0:
		return fmt.Errorf("train: batch %d", c.Batch)
	case c.LR <= 0:
		return fmt.Errorf("train: learning rate %g", c.LR)
	case c.EvalEvery <= 0:
		return fmt.Errorf("train: evaluation every %d iterations", c.EvalEvery)
	case c.Dir == "":
		return fmt.Errorf("train: no output folder")
	case d.Train == nil || d.Train.Len() == 0:
		return fmt.Errorf("train: no training images")
	}
	for _, s := range []*dataset.Set{d.Train, d.Val, d.Test} {
		if s == nil {
			continue
		}
		if s.C != net.C || s.H != net.H || s.W != net.W {
			return fmt.Errorf("train: %s holds %dx%dx%d images, %s takes %dx%dx%d", s.Name, s.C, s.H, s.W, net.Name, net.C, net.H, net.W)
		}
		if s.Classes > net.Classes {
			return fmt.Errorf("train: %s has %d classes, %s only %d outputs", s.Name, s.Classes, net.Name, net.Classes)
		}
	}
	return nil
}

// Run trains net on d with cfg, reporting to p, and writes its files to
// cfg.Dir: metrics.csv, checkpoint.safetensors, weights.safetensors,
// curves.png and mean.safetensors (the per-pixel mean the inputs are
// normalised with, which evaluating the weights later needs). With cfg.Resume and a checkpoint there, it continues from the
// checkpoint's iteration on exactly the path an uninterrupted run takes.
func Run(net Net, d Data, cfg Config, p Progress) ([]Row, error) {
	if err := cfg.validate(net, d); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	ckpt := filepath.Join(cfg.Dir, "checkpoint.safetensors")
	csvPath := filepath.Join(cfg.Dir, "metrics.csv")
	start, prior := 0, 0.0
	var rows []Row
	var win Window
	if cfg.Resume {
		it, secs, w, err := LoadCheckpoint(ckpt, net, cfg)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			start, prior, win = it, secs, w
			if rows, err = ReadMetrics(csvPath); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
			// A killed run may have logged rows after its last checkpoint;
			// the resumed run logs them again.
			rows = slices.DeleteFunc(rows, func(r Row) bool { return r.Iteration > start })
		}
	}
	if err := WriteMetrics(csvPath, rows); err != nil {
		return nil, err
	}

	in := newInput(d.Train, cfg)
	if err := SaveMean(filepath.Join(cfg.Dir, "mean.safetensors"), in.mean, net); err != nil {
		return nil, err
	}
	img := net.C * net.H * net.W
	x := make([]float32, cfg.Batch*img)
	labels := make([]int, cfg.Batch)
	var evalX []float32
	began := time.Now()
	windowStart, windowImages := time.Now(), 0
	p.Start(net.Name, start, cfg.Iterations)
	for it := start; it < cfg.Iterations; it++ {
		if cfg.StopAfter > 0 && it-start == cfg.StopAfter {
			return rows, ErrStopped
		}
		lr := cfg.lr(it)
		net.Trainer.SetLR(float32(lr))
		in.batch(it, x, labels)
		loss, err := net.Trainer.Step(x, labels, cfg.Batch)
		if err != nil {
			return rows, fmt.Errorf("iteration %d: %w", it, err)
		}
		win.Loss += float64(loss)
		win.Wrong += misclassified(net.Trainer.Logits(), labels, net.Classes)
		win.Seen += cfg.Batch
		win.Steps++
		windowImages += cfg.Batch
		done := it + 1
		p.Step(done, float64(loss), float64(win.Wrong)/float64(win.Seen), float64(windowImages)/time.Since(windowStart).Seconds())
		if done%cfg.EvalEvery == 0 || done == cfg.Iterations {
			r := Row{Iteration: done, Epoch: float64(done) * float64(cfg.Batch) / float64(d.Train.Len()), LR: lr,
				TrainLoss: win.Loss / float64(win.Steps), TrainError: float64(win.Wrong) / float64(win.Seen), ValError: -1,
				ImagesPerS: float64(windowImages) / time.Since(windowStart).Seconds()}
			if d.Val != nil {
				if r.ValError, evalX, err = Evaluate(net, d.Val, in.mean, cfg.EvalBatch, evalX); err != nil {
					return rows, err
				}
			}
			if r.TestError, evalX, err = Evaluate(net, d.Test, in.mean, cfg.EvalBatch, evalX); err != nil {
				return rows, err
			}
			r.Seconds = prior + time.Since(began).Seconds()
			rows = append(rows, r)
			if err := WriteMetrics(csvPath, rows); err != nil {
				return rows, err
			}
			p.Eval(r)
			win = Window{}
			windowStart, windowImages = time.Now(), 0
		}
		if (cfg.CheckpointEvery > 0 && done%cfg.CheckpointEvery == 0) || done == cfg.Iterations {
			if err := SaveCheckpoint(ckpt, net, cfg, done, prior+time.Since(began).Seconds(), win); err != nil {
				return rows, err
			}
		}
	}
	p.Done()
	if err := net.pull(); err != nil {
		return rows, err
	}
	if err := nn.SaveParams(filepath.Join(cfg.Dir, "weights.safetensors"), net.Model.Params()); err != nil {
		return rows, err
	}
	return rows, PlotCurves(filepath.Join(cfg.Dir, "curves.png"), net.Name, []Curve{{Name: net.Name, Rows: rows}})
}

// misclassified counts the rows of logits whose largest entry is not the label.
func misclassified(logits []float32, labels []int, classes int) int {
	n := 0
	for i, l := range labels {
		row := logits[i*classes : (i+1)*classes]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best != l {
			n++
		}
	}
	return n
}

// Evaluate returns the error rate of net (eval mode) on s, normalised with
// mean, in batches of batch images; buf is reused scratch.
func Evaluate(net Net, s *dataset.Set, mean []float32, batch int, buf []float32) (float64, []float32, error) {
	if s == nil || s.Len() == 0 {
		return -1, buf, nil
	}
	batch = max(1, min(batch, s.Len()))
	img := s.ImageSize()
	if len(buf) < batch*img {
		buf = make([]float32, batch*img)
	}
	wrong := 0
	labels := make([]int, 0, batch)
	for lo := 0; lo < s.Len(); lo += batch {
		n := min(batch, s.Len()-lo)
		labels = labels[:0]
		for i := range n {
			normalize(buf[i*img:(i+1)*img], s.Image(lo+i), mean)
			labels = append(labels, int(s.Labels[lo+i]))
		}
		logits, err := net.Model.Forward(buf[:n*img], n)
		if err != nil {
			return 0, buf, err
		}
		wrong += misclassified(logits, labels, net.Classes)
	}
	return float64(wrong) / float64(s.Len()), buf, nil
}

// normalize writes pixel/255 minus the per-pixel mean.
func normalize(dst []float32, src []uint8, mean []float32) {
	for i, v := range src {
		dst[i] = float32(v)/255 - mean[i]
	}
}

// input draws training batches: a fresh permutation per epoch and fresh
// crops and flips per iteration, each from a generator seeded by (seed,
// epoch) or (seed, iteration), so that a resumed run needs only the
// iteration to continue exactly where the checkpoint left off.
type input struct {
	set       *dataset.Set
	cfg       Config
	mean      []float32
	epoch     int
	perm      []int
	padded    []float32
	ph, pw, n int
}

func newInput(s *dataset.Set, cfg Config) *input {
	in := &input{set: s, cfg: cfg, epoch: -1, n: s.Len()}
	img := s.ImageSize()
	sum := make([]float64, img)
	for i := range s.Len() {
		for j, v := range s.Image(i) {
			sum[j] += float64(v)
		}
	}
	in.mean = make([]float32, img)
	for j := range sum {
		in.mean[j] = float32(sum[j] / float64(s.Len()) / 255)
	}
	in.ph, in.pw = s.H+2*cfg.Pad, s.W+2*cfg.Pad
	in.padded = make([]float32, s.C*in.ph*in.pw)
	return in
}

func (in *input) index(k int) int {
	e := k / in.n
	if e != in.epoch {
		in.perm = rand.New(rand.NewPCG(in.cfg.Seed, uint64(e))).Perm(in.n)
		in.epoch = e
	}
	return in.perm[k%in.n]
}

func (in *input) batch(it int, x []float32, labels []int) {
	s, pad := in.set, in.cfg.Pad
	img := s.ImageSize()
	r := rand.New(rand.NewPCG(in.cfg.Seed^0xa09_3e47, uint64(it)))
	for b := range labels {
		i := in.index(it*len(labels) + b)
		labels[b] = int(s.Labels[i])
		dst := x[b*img : (b+1)*img]
		if pad == 0 && !in.cfg.Flip {
			normalize(dst, s.Image(i), in.mean)
			continue
		}
		// Normalise into the padded frame (zeros around, as the padding of
		// a mean-subtracted image), then crop and maybe flip.
		clear(in.padded)
		src := s.Image(i)
		for c := range s.C {
			for y := range s.H {
				for xx := range s.W {
					j := (c*s.H+y)*s.W + xx
					in.padded[(c*in.ph+y+pad)*in.pw+xx+pad] = float32(src[j])/255 - in.mean[j]
				}
			}
		}
		dy, dx := r.IntN(2*pad+1), r.IntN(2*pad+1)
		flip := in.cfg.Flip && r.IntN(2) == 1
		for c := range s.C {
			for y := range s.H {
				row := in.padded[(c*in.ph+y+dy)*in.pw+dx:][:s.W]
				out := dst[(c*s.H+y)*s.W:][:s.W]
				if flip {
					for xx := range out {
						out[xx] = row[s.W-1-xx]
					}
				} else {
					copy(out, row)
				}
			}
		}
	}
}
