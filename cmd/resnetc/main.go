// Command resnetc compiles residual network specs (.rn files).
//
//	resnetc check [-D k=v]... SPEC            parse and validate, print a summary
//	resnetc stats [-D k=v]... [-json] SPEC    per-layer parameters and multiply-adds
//	resnetc graph [-D k=v]... SPEC            Graphviz DOT of the network
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
	"strings"

	"github.com/resnetc/resnetc/dot"
	"github.com/resnetc/resnetc/expand"
	"github.com/resnetc/resnetc/frontend"
	"github.com/resnetc/resnetc/ir"
	"github.com/resnetc/resnetc/specs"
	"github.com/resnetc/resnetc/stats"
)

const usage = `usage:
  resnetc check [-D name=value]... SPEC          parse and validate; print a summary
  resnetc stats [-D name=value]... [-json] SPEC  per-layer parameters and multiply-adds
  resnetc graph [-D name=value]... SPEC          Graphviz DOT (pipe into dot -Tpng)

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
	default:
		fmt.Fprintf(stderr, "resnetc: unknown command %q\n"+usage, verb, strings.Join(specs.Names(), ", "))
		return 2
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

// parseArgs parses the flags of a subcommand and loads its one SPEC.
func parseArgs(fs *flag.FlagSet, args []string, stderr io.Writer) (*ir.Graph, error) {
	var defs defines
	fs.Var(&defs, "D", "override a spec parameter: -D name=value (repeatable)")
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return nil, errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "resnetc %s: expected one SPEC, found %d arguments\n", fs.Name(), fs.NArg())
		fs.Usage()
		return nil, errUsage
	}
	return frontend.Load(fs.Arg(0), defs)
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
	g, err := parseArgs(flag.NewFlagSet("graph", flag.ContinueOnError), args, stderr)
	if err != nil {
		return err
	}
	return dot.Write(stdout, g)
}
