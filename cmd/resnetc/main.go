// Command resnetc compiles residual network specs (.rn files).
//
//	resnetc [-D k=v]... [-name PKG] SPEC -o DIR  write the Go package DIR/<name>/
//	resnetc check [-D k=v]... SPEC            parse and validate, print a summary
//	resnetc stats [-D k=v]... [-json] SPEC    per-layer parameters and multiply-adds
//	resnetc graph [-D k=v]... [-fused] SPEC   Graphviz DOT of the network
//	resnetc plan [-D k=v]... [-batch B] [-train] [-json] SPEC  memory plan
//
// SPEC is a file path or the name of a built-in spec such as resnet50.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	cudagen "github.com/resnetc/resnetc/codegen/cuda"
	gogen "github.com/resnetc/resnetc/codegen/go"
	"github.com/resnetc/resnetc/dot"
	"github.com/resnetc/resnetc/expand"
	"github.com/resnetc/resnetc/frontend"
	"github.com/resnetc/resnetc/internal/atomicfile"
	"github.com/resnetc/resnetc/ir"
	"github.com/resnetc/resnetc/nn"
	"github.com/resnetc/resnetc/passes"
	"github.com/resnetc/resnetc/specs"
	"github.com/resnetc/resnetc/stats"
	"github.com/resnetc/resnetc/weights"
	"golang.org/x/mod/modfile"
)

const usage = `usage:
  resnetc [-D name=value]... [-name PKG] [-dump-ir PASS] [-fuse=false] SPEC -o DIR
                                                 compile SPEC into the Go package DIR/PKG
                                                 (PKG defaults to the network's name)
  resnetc check [-D name=value]... SPEC          parse and validate; print a summary
  resnetc stats [-D name=value]... [-json] SPEC  per-layer parameters and multiply-adds
  resnetc graph [-D name=value]... [-fused] SPEC Graphviz DOT (pipe into dot -Tpng)
  resnetc plan [-D name=value]... [-batch B] [-train] [-json] SPEC
                                                 memory plan: naive, planned and lower-bound bytes
  resnetc weights convert IN OUT.safetensors     PyTorch checkpoint (.pth) or safetensors to safetensors
  resnetc weights inspect [-spec SPEC [-D name=value]...] FILE
                                                 tensors of FILE; with -spec, what the spec would miss or not use

SPEC is a .rn file or a built-in spec: ` + "%s" + `
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage reports bad command-line use; its message is already printed.
var errUsage = errors.New("usage")

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, usage, strings.Join(specs.Names(), ", "))
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	verb, rest := args[0], args[1:]
	var err error
	switch verb {
	case "check":
		err = check(rest, stdout, stderr)
	case "stats":
		err = statsCmd(rest, stdout, stderr)
	case "graph":
		err = graph(rest, stdout, stderr)
	case "plan":
		err = planCmd(rest, stdout, stderr)
	case "weights":
		err = weightsCmd(rest, stdout, stderr)
	default:
		err = compile(args, stdout, stderr)
	}
	switch {
	case errors.Is(err, errUsage):
		return 2
	case err != nil:
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// defines collects repeated -D name=value flags.
type defines []expand.Define

func (d *defines) String() string { return fmt.Sprint(*d) }

func (d *defines) Set(s string) error {
	def, err := expand.ParseDefine(s)
	if err != nil {
		return err
	}
	*d = append(*d, def)
	return nil
}

// parseArgs parses the flags of a subcommand, which may come before or
// after its one SPEC, and loads the spec.
func parseArgs(fs *flag.FlagSet, args []string, stderr io.Writer) (*ir.Graph, error) {
	g, _, _, err := parseSpecArgs(fs, args, stderr)
	return g, err
}

func parseSpecArgs(fs *flag.FlagSet, args []string, stderr io.Writer) (*ir.Graph, string, defines, error) {
	var defs defines
	fs.Var(&defs, "D", "override a spec parameter: -D name=value (repeatable)")
	fs.SetOutput(stderr)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, "", nil, errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 1 {
		fmt.Fprintf(stderr, "resnetc %s: expected one SPEC, found %d arguments\n", fs.Name(), len(positional))
		fs.Usage()
		return nil, "", nil, errUsage
	}
	src, name, err := frontend.Read(positional[0])
	if err != nil {
		return nil, "", nil, err
	}
	g, err := frontend.Compile(name, src, defs)
	return g, name, defs, err
}

// compile writes the Go package of a spec.
func compile(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compile", flag.ContinueOnError)
	out := fs.String("o", "", "write the package into `DIR`/<name>/ (required)")
	pkg := fs.String("name", "", "Go package name and folder (default: the network's name)")
	dump := fs.String("dump-ir", "", "print the IR after the pass `PASS`: "+passList())
	fuse := fs.Bool("fuse", true, "fuse BN, add and ReLU into the convs for inference (false only to measure fusion)")
	cuda := fs.Bool("cuda", true, "also write cuda/: the CUDA C kernels and the host package (build tag cuda)")
	g, source, defs, err := parseSpecArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "resnetc: -o DIR is required")
		return errUsage
	}
	var defStrings []string
	for _, d := range defs {
		defStrings = append(defStrings, d.Name+"="+d.Value)
	}
	train, infer, err := pipelines(g, *dump, *fuse, stdout)
	if err != nil {
		return fmt.Errorf("%s: %v", source, err)
	}
	files, err := gogen.Generate(train, infer, gogen.Options{Package: *pkg, Source: filepath.ToSlash(source), Defines: defStrings})
	if err != nil {
		return fmt.Errorf("%s: %v", source, err)
	}
	name := *pkg
	if name == "" {
		name = g.Name
	}
	dir := filepath.Join(*out, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if *cuda {
		// The host package imports the CPU package; without a module
		// around the output its import path is unknown, and only the
		// kernels are written.
		cpuImport, _ := importPath(dir)
		cf, err := cudagen.Generate(train, infer, cudagen.Options{Package: name, Source: filepath.ToSlash(source), Defines: defStrings, CPUImport: cpuImport})
		if err != nil {
			return fmt.Errorf("%s: %v", source, err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "cuda"), 0o755); err != nil {
			return err
		}
		for _, f := range cf {
			f.Name = filepath.FromSlash(f.Name)
			files = append(files, gogen.File{Name: f.Name, Data: f.Data})
		}
	}
	for _, f := range files {
		if err := atomicfile.Write(filepath.Join(dir, f.Name), f.Data); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%s: wrote %d files to %s\n", source, len(files), dir)
	return nil
}

// pipelines runs the training and the inference passes on copies of g,
// printing the IR after the pass named dump, if any.
func pipelines(g *ir.Graph, dump string, fuse bool, w io.Writer) (train, infer *ir.Graph, err error) {
	inTrain, inInfer := false, false
	for _, n := range passes.Names(passes.Training)[1:] {
		inTrain = inTrain || n == dump
	}
	for _, n := range passes.Names(passes.Inference) {
		inInfer = inInfer || n == dump
	}
	if dump != "" && !inTrain && !inInfer {
		return nil, nil, fmt.Errorf("-dump-ir=%s: no such pass; the passes are %s", dump, passList())
	}
	cfg := func(on bool) passes.Config {
		if on {
			return passes.Config{Dump: dump, DumpTo: w}
		}
		return passes.Config{}
	}
	if train, err = passes.ForTraining(g, cfg(inTrain)); err != nil {
		return nil, nil, err
	}
	forInference := passes.ForInference
	if !fuse {
		forInference = passes.ForInferenceUnfused
		if inInfer && dump != "frontend" && dump != "plan-memory" {
			return nil, nil, fmt.Errorf("-dump-ir=%s: the pass does not run with -fuse=false", dump)
		}
	}
	if infer, err = forInference(g, cfg(inInfer)); err != nil {
		return nil, nil, err
	}
	return train, infer, nil
}

func passList() string {
	return "inference: " + strings.Join(passes.Names(passes.Inference), ", ") +
		"; training: " + strings.Join(passes.Names(passes.Training)[1:], ", ")
}

// importPath is the Go import path of dir, from the go.mod above it.
func importPath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			mod := modfile.ModulePath(data)
			if mod == "" {
				return "", fmt.Errorf("%s: no module line", filepath.Join(d, "go.mod"))
			}
			rel, err := filepath.Rel(d, abs)
			if err != nil {
				return "", err
			}
			if rel == "." {
				return mod, nil
			}
			return mod + "/" + filepath.ToSlash(rel), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", abs)
		}
	}
}

func check(args []string, stdout, stderr io.Writer) error {
	g, err := parseArgs(flag.NewFlagSet("check", flag.ContinueOnError), args, stderr)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, stats.Of(g).Summary())
	return err
}

func statsCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	g, err := parseArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	r := stats.Of(g)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.WriteTable(stdout)
}

func graph(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("graph", flag.ContinueOnError)
	fused := fs.Bool("fused", false, "draw the inference graph after fusion")
	g, err := parseArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	if *fused {
		if g, err = passes.ForInference(g, passes.Config{}); err != nil {
			return err
		}
	}
	return dot.Write(stdout, g)
}

// weightsCmd converts and inspects weight files.
func weightsCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "resnetc weights: expected convert or inspect")
		return errUsage
	}
	switch args[0] {
	case "convert":
		if len(args) != 3 {
			fmt.Fprintln(stderr, "usage: resnetc weights convert IN OUT.safetensors")
			return errUsage
		}
		f, err := weights.Convert(args[1], args[2])
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s: %d tensors (%s) written to %s\n", args[1], len(f.Tensors), f.Format, args[2])
		return err
	case "inspect":
		fs := flag.NewFlagSet("weights inspect", flag.ContinueOnError)
		spec := fs.String("spec", "", "compare the file's tensors with what `SPEC` needs")
		var defs defines
		fs.Var(&defs, "D", "override a parameter of the -spec spec: -D name=value (repeatable)")
		fs.SetOutput(stderr)
		if err := fs.Parse(args[1:]); err != nil {
			return errUsage
		}
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "usage: resnetc weights inspect [-spec SPEC [-D name=value]...] FILE")
			return errUsage
		}
		f, err := weights.Read(fs.Arg(0))
		if err != nil {
			return err
		}
		var total int64
		fmt.Fprintf(stdout, "%s: %s, %d tensors\n", fs.Arg(0), f.Format, len(f.Tensors))
		for i, t := range f.Tensors {
			total += int64(len(t.Data))
			fmt.Fprintf(stdout, "  %-45s %-5s %-18s %12s bytes\n", t.Name, f.Stored[i], fmt.Sprint(t.Shape), stats.Group(int64(len(t.Data))))
		}
		fmt.Fprintf(stdout, "total %s bytes (as loaded)\n", stats.Group(total))
		if *spec == "" {
			return nil
		}
		g, err := frontend.Load(*spec, defs)
		if err != nil {
			return err
		}
		var params []nn.Param
		for _, p := range g.StateDict() {
			params = append(params, nn.Param{Name: p.Name, Shape: p.Shape})
			if p.Kind == ir.BatchesTracked {
				var c int64
				params[len(params)-1].Count = &c
			}
		}
		if err := nn.CheckTensors(f.Tensors, params); err != nil {
			fmt.Fprintf(stdout, "against %s: %v\n", g.Name, err)
			return fmt.Errorf("%s does not fit %s", fs.Arg(0), g.Name)
		}
		_, err = fmt.Fprintf(stdout, "against %s: every tensor matches\n", g.Name)
		return err
	}
	fmt.Fprintf(stderr, "resnetc weights: unknown subcommand %q; expected convert or inspect\n", args[0])
	return errUsage
}

// planCmd reports the memory plan of inference or of a training step.
func planCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	batch := fs.Int("batch", 1, "batch size `B`")
	train := fs.Bool("train", false, "plan a training step (values kept for backward and gradients) instead of inference")
	asJSON := fs.Bool("json", false, "print one JSON object")
	g, err := parseArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	if *batch < 1 {
		fmt.Fprintf(stderr, "resnetc plan: -batch %d: must be at least 1\n", *batch)
		return errUsage
	}
	what := "inference"
	if *train {
		what = "training step"
		g, err = passes.ForTraining(g, passes.Config{})
	} else {
		g, err = passes.ForInference(g, passes.Config{})
	}
	if err != nil {
		return err
	}
	m := passes.MemoryOf(g, *batch)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Network string `json:"network"`
			Mode    string `json:"mode"`
			Batch   int    `json:"batch"`
			passes.Memory
		}{g.Name, what, *batch, m})
	}
	mib := func(b int64) string { return fmt.Sprintf("%s bytes (%.1f MiB)", stats.Group(b), float64(b)/(1<<20)) }
	_, err = fmt.Fprintf(stdout, "%s %s, batch %d:\n  naive        %s\n  planned      %s\n  lower bound  %s\n  planned / lower bound %.3f, saved %.1f%% of naive\n",
		g.Name, what, *batch, mib(m.Naive), mib(m.Planned), mib(m.LowerBound),
		float64(m.Planned)/float64(m.LowerBound), 100*(1-float64(m.Planned)/float64(m.Naive)))
	return err
}
