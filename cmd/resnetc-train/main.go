// Command resnetc-train trains a network that resnetc generated, with the
// paper's recipe, on Fashion-MNIST, CIFAR-10 or a folder of images:
//
//	resnetc-train -model resnet20 -data fashion-mnist -iters 64000 -o runs/resnet20
//	resnetc-train -model resnet56 -data cifar10:/path/to/cifar-10-batches-bin -o runs/r56
//	resnetc-train -model resnet20 -data folder:photos/train -test folder:photos/test -o runs/mine
//	resnetc-train plot -o fig6.png runs/plain20 runs/plain56 runs/resnet20 runs/resnet56
//	resnetc-train eval -model resnet20 -data fashion-mnist runs/resnet20
//
// A run writes metrics.csv, checkpoint.safetensors (every -checkpoint-every
// iterations), weights.safetensors and curves.png to its -o folder; with
// -resume it continues from the checkpoint there, on the same trajectory.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/resnetc/resnetc/dataset"
	"github.com/resnetc/resnetc/nn"
	"github.com/resnetc/resnetc/train"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "eval" {
		if err := evalRun(args[1:], stdout); err != nil {
			fmt.Fprintln(stderr, "resnetc-train eval:", err)
			return 1
		}
		return 0
	}
	if len(args) > 0 && args[0] == "plot" {
		if err := plotRuns(args[1:]); err != nil {
			fmt.Fprintln(stderr, "resnetc-train plot:", err)
			return 1
		}
		return 0
	}
	fs := flag.NewFlagSet("resnetc-train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "resnet20", "generated network: "+strings.Join(sortedModels(), ", "))
	data := fs.String("data", "fashion-mnist", "training data: fashion-mnist[:DIR], cifar10:DIR, folder:DIR")
	testData := fs.String("test", "", "test data for -data folder: folder:DIR (default: the -data set's own test split)")
	iters := fs.Int("iters", 64000, "SGD iterations")
	batch := fs.Int("batch", 128, "images per iteration")
	lr := fs.Float64("lr", 0.1, "initial learning rate")
	milestones := fs.String("milestones", "", "iterations at which the rate is divided by 10, comma-separated (default: 50% and 75% of -iters, the paper's 32k and 48k of 64k)")
	warmup := fs.Int("warmup", 0, "iterations at -warmup-lr first (the paper uses 400 for ResNet-110)")
	warmupLR := fs.Float64("warmup-lr", 0.01, "learning rate during warm-up")
	momentum := fs.Float64("momentum", 0.9, "SGD momentum")
	wd := fs.Float64("wd", 1e-4, "weight decay")
	pad := fs.Int("pad", 4, "zero padding before the random crop (0: no crops)")
	flip := fs.String("flip", "auto", "random horizontal flips: on, off, or auto (off for Fashion-MNIST, whose images all face one way; on otherwise)")
	val := fs.Int("val", 5000, "training images held out for validation (0: none)")
	subset := fs.Int("subset", 0, "train on only the first N training images (0: all); for quick runs")
	testSubset := fs.Int("test-subset", 0, "evaluate on only the first N test images (0: all)")
	seed := fs.Uint64("seed", 1, "seed of the initial weights, the data order and the augmentation")
	evalEvery := fs.Int("eval-every", 0, "iterations between evaluations (default: -iters/50)")
	ckptEvery := fs.Int("checkpoint-every", 500, "iterations between checkpoints")
	threads := fs.Int("threads", 0, "goroutines for the kernels (0: GOMAXPROCS)")
	device := fs.String("device", "cpu", "where to train: cpu, or cuda (GPU 0; needs a binary built with -tags cuda, which starts only where the CUDA driver is)")
	out := fs.String("o", "", "output folder (required)")
	resume := fs.Bool("resume", false, "continue from the checkpoint in -o if there is one")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: resnetc-train [flags] -o DIR   (resnetc-train -h lists the flags)")
		return 2
	}
	mk, ok := models[*model]
	if !ok {
		fmt.Fprintf(stderr, "resnetc-train: unknown model %q; generated ones: %s\n", *model, strings.Join(sortedModels(), ", "))
		return 2
	}
	if *threads > 0 {
		nn.SetThreads(*threads)
	}
	cfg := train.Recipe(*iters)
	cfg.Batch, cfg.LR, cfg.WarmupIters, cfg.WarmupLR, cfg.Pad, cfg.Seed = *batch, *lr, *warmup, *warmupLR, *pad, *seed
	cfg.CheckpointEvery, cfg.Dir, cfg.Resume = *ckptEvery, *out, *resume
	if *evalEvery > 0 {
		cfg.EvalEvery = *evalEvery
	}
	if *milestones != "" {
		cfg.Milestones = nil
		for _, f := range strings.Split(*milestones, ",") {
			m, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || m <= 0 {
				fmt.Fprintf(stderr, "resnetc-train: -milestones: %q is not a positive iteration number\n", f)
				return 2
			}
			cfg.Milestones = append(cfg.Milestones, m)
		}
	}
	opt := sgd{LR: float32(*lr), Momentum: float32(*momentum), WeightDecay: float32(*wd)}
	var net train.Net
	switch *device {
	case "cpu":
		net = mk(*seed, opt)
	case "cuda":
		mkGPU, ok := gpuModels[*model]
		if !ok {
			fmt.Fprintln(stderr, "resnetc-train: -device cuda: this binary was built without CUDA; build it with `go build -tags cuda ./cmd/resnetc-train` (CUDA headers: scripts/cuda-deps.sh)")
			return 2
		}
		var err error
		if net, err = mkGPU(*seed, opt); err != nil {
			fmt.Fprintln(stderr, "resnetc-train: -device cuda:", err)
			return 1
		}
	default:
		fmt.Fprintf(stderr, "resnetc-train: -device %q: want cpu or cuda\n", *device)
		return 2
	}
	d, isFashion, err := loadData(*data, *testData, net, *val, *subset, *testSubset, *seed)
	if err != nil {
		fmt.Fprintln(stderr, "resnetc-train:", err)
		return 1
	}
	switch *flip {
	case "on":
		cfg.Flip = true
	case "off":
		cfg.Flip = false
	case "auto":
		cfg.Flip = !isFashion
	default:
		fmt.Fprintf(stderr, "resnetc-train: -flip %q: want on, off or auto\n", *flip)
		return 2
	}
	fmt.Fprintf(stderr, "%s on %s: %d training, %d validation, %d test images; %d iterations of %d, lr %g, milestones %v, flip %v\n",
		net.Name, *data, d.Train.Len(), lenOf(d.Val), d.Test.Len(), cfg.Iterations, cfg.Batch, cfg.LR, cfg.Milestones, cfg.Flip)
	rows, err := train.Run(net, d, cfg, train.NewProgress(stderr))
	if err != nil {
		fmt.Fprintln(stderr, "resnetc-train:", err)
		return 1
	}
	if len(rows) > 0 {
		r := rows[len(rows)-1]
		fmt.Fprintf(stdout, "%s: final train error %.2f%%, test error %.2f%% (accuracy %.2f%%) after %d iterations, %.0f s\n",
			net.Name, 100*r.TrainError, 100*r.TestError, 100*(1-r.TestError), r.Iteration, r.Seconds)
	}
	return 0
}

func lenOf(s *dataset.Set) int {
	if s == nil {
		return 0
	}
	return s.Len()
}

func sortedModels() []string {
	var names []string
	for n := range models {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// loadData reads -data (and -test), fits the images to the network and
// holds out the validation images.
func loadData(spec, testSpec string, net train.Net, val, subset, testSubset int, seed uint64) (train.Data, bool, error) {
	kind, dir, _ := strings.Cut(spec, ":")
	var tr, te *dataset.Set
	var err error
	switch kind {
	case "fashion-mnist":
		if dir == "" {
			dir = dataset.FashionMNISTDir
		}
		tr, te, err = dataset.LoadFashionMNIST(dir)
	case "cifar10":
		if dir == "" {
			return train.Data{}, false, errors.New("-data cifar10:DIR: name the folder holding data_batch_1.bin ... test_batch.bin")
		}
		tr, te, err = dataset.LoadCIFAR10(dir)
	case "folder":
		if dir == "" {
			return train.Data{}, false, errors.New("-data folder:DIR: name the folder with one sub-folder per class")
		}
		if tr, err = dataset.LoadFolder(dir, net.C, net.H, net.W); err != nil {
			break
		}
		tk, tdir, _ := strings.Cut(testSpec, ":")
		if tk != "folder" || tdir == "" {
			return train.Data{}, false, errors.New("-data folder:DIR needs -test folder:DIR with the same class sub-folders")
		}
		if te, err = dataset.LoadFolder(tdir, net.C, net.H, net.W); err != nil {
			break
		}
		if !slices.Equal(tr.Names, te.Names) {
			return train.Data{}, false, fmt.Errorf("%s and %s have different class folders: %v and %v", dir, tdir, tr.Names, te.Names)
		}
	default:
		return train.Data{}, false, fmt.Errorf("-data %q: want fashion-mnist[:DIR], cifar10:DIR or folder:DIR", spec)
	}
	if err != nil {
		return train.Data{}, false, err
	}
	if tr, err = tr.Fit(net.C, net.H, net.W); err != nil {
		return train.Data{}, false, err
	}
	if te, err = te.Fit(net.C, net.H, net.W); err != nil {
		return train.Data{}, false, err
	}
	if subset > 0 && subset < tr.Len() {
		tr = tr.Subset(tr.Name, seq(subset))
	}
	if testSubset > 0 && testSubset < te.Len() {
		te = te.Subset(te.Name, seq(testSubset))
	}
	d := train.Data{Train: tr, Test: te}
	if val > 0 {
		if d.Train, d.Val, err = tr.Split(val, seed); err != nil {
			return train.Data{}, false, err
		}
	}
	return d, kind == "fashion-mnist", nil
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// plotRuns draws several runs' metrics.csv into one figure.
func plotRuns(args []string) error {
	fs := flag.NewFlagSet("plot", flag.ContinueOnError)
	out := fs.String("o", "curves.png", "PNG to write")
	title := fs.String("title", "training (dashed) and test (solid) error", "figure title")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: resnetc-train plot -o FIG.png RUNDIR...")
	}
	var curves []train.Curve
	for _, dir := range fs.Args() {
		rows, err := train.ReadMetrics(filepath.Join(dir, "metrics.csv"))
		if err != nil {
			return err
		}
		curves = append(curves, train.Curve{Name: filepath.Base(dir), Rows: rows})
	}
	return train.PlotCurves(*out, *title, curves)
}

// evalRun measures a finished run's weights on the whole test set.
func evalRun(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	model := fs.String("model", "resnet20", "generated network the run trained")
	data := fs.String("data", "fashion-mnist", "the run's data: fashion-mnist[:DIR], cifar10:DIR, folder:DIR")
	testData := fs.String("test", "", "test data for -data folder: folder:DIR")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: resnetc-train eval -model NAME -data DATA RUNDIR")
	}
	mk, ok := models[*model]
	if !ok {
		return fmt.Errorf("unknown model %q; generated ones: %s", *model, strings.Join(sortedModels(), ", "))
	}
	dir := fs.Arg(0)
	net := mk(1, sgd{})
	mean, err := train.LoadMean(filepath.Join(dir, "mean.safetensors"), net)
	if err != nil {
		return err
	}
	if err := nn.LoadParams(filepath.Join(dir, "weights.safetensors"), net.Model.Params()); err != nil {
		return err
	}
	net.Model.WeightsChanged()
	d, _, err := loadData(*data, *testData, net, 0, 0, 0, 1)
	if err != nil {
		return err
	}
	e, _, err := train.Evaluate(net, d.Test, mean, 500, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s on %d test images: error %.2f%%, accuracy %.2f%%\n", dir, d.Test.Len(), 100*e, 100*(1-e))
	return nil
}
