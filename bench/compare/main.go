// Command compare times the generated Go models against ONNX Runtime and
// PyTorch on the same machine in one run, interleaved, after checking
// that all three compute the same result from the same weights and
// inputs. It prints one table: median milliseconds, images per second,
// GFLOP/s, the fraction of the FMA peak that bench/peak measures, and our
// speed-up over each reference.
//
// From the repository root, once:
//
//	(cd bench/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci)
//
// then:
//
//	go run ./bench/compare [-rounds 5] [-reps 3] [-threads 2] [-gap 200ms] [-only resnet50]
//
// Before each implementation's runs in a round the machine idles for -gap,
// so that the thread pools of the one before have stopped polling; on
// Linux the tool checks that the others' processes stayed off the CPU
// during each implementation's runs and warns where they did not.
//
// It needs Debian's python3-torch and python3-torchvision (PyTorch 1.13)
// and Node.js. It is a tool run by hand, not a test: the machines are
// shared, so a ratio means something only within one run.
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/resnetc/resnetc/bench/peak"
	"github.com/resnetc/resnetc/expand"
	"github.com/resnetc/resnetc/frontend"
	"github.com/resnetc/resnetc/nn"
	"github.com/resnetc/resnetc/stats"
)

// tolerance is the largest relative L2 difference between two
// implementations' logits (or losses) that the run accepts before timing.
const tolerance = 1e-4

// idleGap is how long the machine idles before each implementation's runs
// in a round (-gap). ONNX Runtime's and OpenMP's threads poll for work for
// a while after their runs: without the gap, the other processes used 30
// to 50 ms of CPU time during resnetc's four runs of resnet18 a round
// (about 40 ms), after ONNX Runtime had run resnet50, and resnetc's
// resnet18 took 12-18 ms instead of 10. The first, untimed run of a round
// does not cover that for a short workload.
var idleGap time.Duration

// busyLimit is the share of an implementation's timed runs during which
// the other implementations' processes may run before the tool warns that
// its figures are unsound.
const busyLimit = 0.05

func main() {
	rounds := flag.Int("rounds", 5, "interleaved rounds; each runs every implementation -reps times")
	reps := flag.Int("reps", 3, "timed runs per implementation per round")
	threads := flag.Int("threads", 2, "threads for every implementation")
	only := flag.String("only", "", "comma-separated workload names to run (default all)")
	python := flag.String("python", "/usr/bin/python3", "the Python with PyTorch 1.13")
	node := flag.String("node", "node", "Node.js, for ONNX Runtime")
	noORT := flag.Bool("no-ort", false, "leave ONNX Runtime out")
	spin := flag.Duration("spin", nn.SetSpinWait(0), "how long resnetc's goroutines poll for work before they block (nn.SetSpinWait)")
	gap := flag.Duration("gap", 200*time.Millisecond, "idle time before each implementation's runs in a round, so that the thread pools of the one before have stopped polling")
	flag.Parse()
	nn.SetSpinWait(*spin)
	idleGap = *gap
	if err := run(*rounds, *reps, *threads, *only, *python, *node, !*noORT); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func run(rounds, reps, threads int, only, python, node string, withORT bool) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	nn.SetThreads(threads)
	tmp, err := os.MkdirTemp("", "resnetc-compare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// The peak first, before the servers start loading their libraries.
	peak1, peakAll := peak.GFLOPS(1, 20), peak.GFLOPS(threads, 20)

	pt, err := startServer("PyTorch", root, python, filepath.Join(root, "scripts", "bench_torch.py"))
	if err != nil {
		return err
	}
	defer pt.close()
	var ort *server
	if withORT {
		if _, err := os.Stat(filepath.Join(root, "bench", "ort", "node_modules", "onnxruntime-node")); err != nil {
			return fmt.Errorf("onnxruntime-node is not installed: run (cd bench/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci), or pass -no-ort")
		}
		if ort, err = startServer("ONNX Runtime", root, node, filepath.Join(root, "bench", "ort", "server.js")); err != nil {
			return err
		}
		defer ort.close()
	}

	fmt.Printf("FMA peak (bench/peak, %s register loop): %.0f GFLOP/s on one core, %.0f on %d threads\n", peak.Kind(), peak1, peakAll, threads)

	var rows []row
	for _, w := range workloads {
		if only != "" && !slices.Contains(strings.Split(only, ","), w.name) {
			continue
		}
		fmt.Fprintf(os.Stderr, "%s: checking outputs...\n", w.label())
		r, err := measure(w, tmp, rounds, reps, threads, pt, ort)
		if err != nil {
			return fmt.Errorf("%s: %w", w.label(), err)
		}
		rows = append(rows, r...)
	}
	printTable(os.Stdout, rows, peakAll, threads)
	return nil
}

// row is one implementation's timing of one workload.
type row struct {
	workload, impl string
	median         float64 // ms
	images         int
	flops          float64 // per run
	speedup        float64 // ours over this one; 0 for ours
	agree          string  // how closely its result matched ours
}

func measure(w workload, tmp string, rounds, reps, threads int, pt, ort *server) ([]row, error) {
	m := w.newModel()
	weights := filepath.Join(tmp, w.name+".safetensors")
	if err := m.SaveWeights(weights); err != nil {
		return nil, err
	}
	c, h, wd := m.Shape()
	rng := rand.New(rand.NewPCG(7, uint64(w.batch)))
	x := make([]float32, w.batch*c*h*wd)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, w.batch)
	for i := range labels {
		labels[i] = rng.IntN(m.Classes())
	}
	input := filepath.Join(tmp, "input.f32")
	labelFile := filepath.Join(tmp, "labels.i64")
	if err := writeRaw(input, x, labels, labelFile); err != nil {
		return nil, err
	}
	macs, err := w.macs()
	if err != nil {
		return nil, err
	}
	flops := float64(2 * macs * int64(w.batch))

	req := map[string]any{"op": "load", "model": w.torchName, "weights": weights, "input": input,
		"labels": labelFile, "batch": w.batch, "train": w.train, "threads": threads}
	var goRun func() error
	var agreeTorch, agreeORT string
	var impls []*server
	if w.train {
		flops *= 3 // forward, and backward's two products of the same size
		tr := m.Trainer()
		loss, err := tr.Step(x, labels, w.batch)
		if err != nil {
			return nil, err
		}
		var reply struct{ Loss float64 }
		if err := pt.call(req, &reply); err != nil {
			return nil, err
		}
		d := relDiff([]float32{loss}, []float64{reply.Loss})
		if d > tolerance {
			return nil, fmt.Errorf("loss before the first step: ours %.7g, PyTorch %.7g (relative difference %.2g > %g)", loss, reply.Loss, d, tolerance)
		}
		agreeTorch = fmt.Sprintf("loss %.1e", d)
		goRun = func() error { _, err := tr.Step(x, labels, w.batch); return err }
		impls = []*server{pt}
	} else {
		onnx := filepath.Join(tmp, w.name+".onnx")
		req["onnx"] = ""
		if ort != nil {
			req["onnx"] = onnx
		}
		ours, err := m.Forward(x, w.batch)
		if err != nil {
			return nil, err
		}
		ours = slices.Clone(ours)
		var reply struct{ Logits []float64 }
		if err := pt.call(req, &reply); err != nil {
			return nil, err
		}
		d := relDiff(ours, reply.Logits)
		if d > tolerance {
			return nil, fmt.Errorf("logits: ours and PyTorch's differ by %.2g (relative L2) > %g", d, tolerance)
		}
		agreeTorch = fmt.Sprintf("logits %.1e", d)
		impls = []*server{pt}
		if ort != nil {
			var reply struct{ Logits []float64 }
			if err := ort.call(map[string]any{"op": "load", "onnx": onnx, "input": input, "batch": w.batch,
				"shape": []int{c, h, wd}, "threads": threads}, &reply); err != nil {
				return nil, err
			}
			d := relDiff(ours, reply.Logits)
			if d > tolerance {
				return nil, fmt.Errorf("logits: ours and ONNX Runtime's differ by %.2g (relative L2) > %g", d, tolerance)
			}
			agreeORT = fmt.Sprintf("logits %.1e", d)
			impls = append(impls, ort)
		}
		goRun = func() error { _, err := m.Forward(x, w.batch); return err }
	}

	// Interleaved: every round runs each implementation reps times, so a
	// slow spell on the shared machine hits all of them alike. Before each
	// implementation's runs the machine idles for idleGap, so that the
	// thread pools of the one before have stopped polling; and each
	// round's first run is not timed, as the caches hold the other's data.
	// The other processes' CPU time during each implementation's runs is
	// summed (busy, against the runs' wall time) to check that they were
	// alone.
	times := make([][]float64, 1+len(impls))
	pids := []int{os.Getpid()}
	for _, s := range impls {
		pids = append(pids, s.cmd.Process.Pid)
	}
	others := func(i int) []int { return slices.Delete(slices.Clone(pids), i, i+1) }
	busy, wall := make([]time.Duration, 1+len(impls)), make([]time.Duration, 1+len(impls))
	watch := func(i int, run func() error) error {
		time.Sleep(idleGap)
		before, ok := onCPU(others(i))
		start := time.Now()
		err := run()
		if after, ok2 := onCPU(others(i)); ok && ok2 {
			busy[i] += after - before
			wall[i] += time.Since(start)
		}
		return err
	}
	for range rounds {
		err := watch(0, func() error {
			for i := range 1 + reps {
				start := time.Now()
				if err := goRun(); err != nil {
					return err
				}
				if i > 0 {
					times[0] = append(times[0], float64(time.Since(start).Microseconds())/1e3)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for i, s := range impls {
			var reply struct{ Ms []float64 }
			if err := watch(i+1, func() error { return s.call(map[string]any{"op": "time", "reps": 1 + reps}, &reply) }); err != nil {
				return nil, err
			}
			if len(reply.Ms) != 1+reps {
				return nil, fmt.Errorf("%s timed %d runs, not %d", s.name, len(reply.Ms), 1+reps)
			}
			times[i+1] = append(times[i+1], reply.Ms[1:]...)
		}
	}
	for i := range busy {
		if wall[i] > 0 && float64(busy[i]) > busyLimit*float64(wall[i]) {
			name := "resnetc"
			if i > 0 {
				name = impls[i-1].name
			}
			fmt.Fprintf(os.Stderr, "compare: %s, %s: the other implementations ran for %.0f%% of its runs' time (%v of %v); its figures are low (try a longer -gap)\n",
				w.label(), name, 100*float64(busy[i])/float64(wall[i]), busy[i].Round(time.Millisecond), wall[i].Round(time.Millisecond))
		}
	}
	ours := median(times[0])
	rows := []row{{workload: w.label(), impl: "resnetc (Go)", median: ours, images: w.batch, flops: flops}}
	for i, s := range impls {
		agree := agreeTorch
		if s == ort {
			agree = agreeORT
		}
		med := median(times[i+1])
		rows = append(rows, row{workload: w.label(), impl: s.name, median: med, images: w.batch, flops: flops,
			speedup: med / ours, agree: agree})
	}
	return rows, nil
}

func printTable(f *os.File, rows []row, peakGFLOPS float64, threads int) {
	tw := tabwriter.NewWriter(f, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "workload\timplementation\tmedian ms\timages/s\tGFLOP/s\t%% of %d-thread peak\tresnetc speed-up\tagrees with resnetc\t\n", threads)
	for _, r := range rows {
		gflops := r.flops / r.median / 1e6
		frac := "-"
		if peakGFLOPS > 0 {
			frac = fmt.Sprintf("%.0f%%", 100*gflops/peakGFLOPS)
		}
		speed, agree := "", r.agree
		if r.speedup > 0 {
			speed = fmt.Sprintf("%.2fx", r.speedup)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.0f\t%.0f\t%s\t%s\t%s\t\n", r.workload, r.impl, r.median,
			float64(r.images)/r.median*1e3, gflops, frac, speed, agree)
	}
	tw.Flush()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// relDiff is ||a-b|| / ||b||.
func relDiff(a []float32, b []float64) float64 {
	if len(a) != len(b) {
		return 1e9
	}
	var num, den float64
	for i := range a {
		d := float64(a[i]) - b[i]
		num += d * d
		den += b[i] * b[i]
	}
	if den == 0 {
		return num
	}
	return math.Sqrt(num / den)
}

// onCPU is how long the threads of processes pids have run on a CPU, from
// Linux's /proc/PID/task/TID/schedstat (nanoseconds, unlike /proc/PID/stat's
// clock ticks of 10 ms, longer than a resnet18 run); ok is false where it
// cannot be read. Threads that exit in between are not counted.
func onCPU(pids []int) (total time.Duration, ok bool) {
	for _, pid := range pids {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return 0, false
		}
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
			if err != nil {
				continue // the thread has exited
			}
			var ns int64
			if _, err := fmt.Sscan(string(b), &ns); err != nil {
				return 0, false
			}
			total += time.Duration(ns)
		}
	}
	return total, true
}

func macsOf(spec string, defines ...expand.Define) (int64, error) {
	g, err := frontend.Load(spec, defines)
	if err != nil {
		return 0, err
	}
	return stats.Of(g).MACs, nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "bench", "ort", "server.js")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run from inside the resnetc repository (bench/ort/server.js not found above %s)", dir)
		}
		dir = parent
	}
}
