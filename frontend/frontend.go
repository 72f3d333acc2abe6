// Package frontend reads a spec, by path or by the name of a spec embedded
// in resnetc, and turns it into verified IR: parse, expand, verify.
package frontend

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/resnetc/resnetc/dsl"
	"github.com/resnetc/resnetc/expand"
	"github.com/resnetc/resnetc/ir"
	"github.com/resnetc/resnetc/specs"
)

// Load reads the spec at path, or, when no such file exists and the
// argument is a bare name, the embedded spec of that name ("resnet50").
func Load(arg string, defines []expand.Define) (*ir.Graph, error) {
	src, name, err := Read(arg)
	if err != nil {
		return nil, err
	}
	return Compile(name, src, defines)
}

// Read returns the source of a spec and the file name to report it as.
func Read(arg string) ([]byte, string, error) {
	src, err := os.ReadFile(arg)
	if err == nil {
		return src, arg, nil
	}
	if !strings.ContainsAny(arg, `/\`) {
		if b, ok := specs.Lookup(arg); ok {
			return b, "specs/" + strings.TrimSuffix(arg, ".rn") + ".rn", nil
		}
	}
	if os.IsNotExist(err) {
		return nil, "", fmt.Errorf("%s: no such spec file, and no built-in spec of that name (built in: %s)%s",
			arg, strings.Join(specs.Names(), ", "), dsl.Suggest(strings.TrimSuffix(filepath.Base(arg), ".rn"), specs.Names()))
	}
	return nil, "", err
}

// Compile parses and expands src and verifies the resulting graph.
func Compile(filename string, src []byte, defines []expand.Define) (*ir.Graph, error) {
	f, err := dsl.Parse(filename, src)
	if err != nil {
		return nil, err
	}
	g, err := expand.Graph(f, filename, defines)
	if err != nil {
		return nil, err
	}
	if err := g.Verify(); err != nil {
		return nil, fmt.Errorf("%s: internal error, the IR does not verify: %v", filename, err)
	}
	return g, nil
}
