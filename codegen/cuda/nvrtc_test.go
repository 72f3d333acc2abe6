//go:build nvrtc

package cudagen

// NVRTC compiles every generated kernels.cu for compute_80 and compute_90
// on any machine: no GPU is needed, only Debian's NVRTC and CUDA headers
// (scripts/cuda-deps.sh):
//
//	eval "$(scripts/cuda-deps.sh)" && go test -tags nvrtc ./codegen/cuda

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnetc/resnetc/frontend"
	"github.com/resnetc/resnetc/passes"
	"gorgonia.org/cu/nvrtc"
)

var archs = []string{"compute_80", "compute_90"}

// compileCUDA compiles src with NVRTC for arch; warnings count as errors.
func compileCUDA(src, name, arch string) (log string, err error) {
	prog, err := nvrtc.CreateProgram(src, name)
	if err != nil {
		return "", err
	}
	defer prog.Destroy()
	err = prog.Compile("--gpu-architecture="+arch, "--std=c++17")
	log, _ = prog.GetLog()
	return strings.TrimRight(log, "\x00\n "), err
}

// TestGeneratedKernelsCompile compiles the committed generated/*/cuda/kernels.cu.
func TestGeneratedKernelsCompile(t *testing.T) {
	files, err := filepath.Glob("../../generated/*/cuda/kernels.cu")
	if err != nil || len(files) == 0 {
		t.Fatalf("no generated kernels found (%v)", err)
	}
	for _, f := range files {
		for _, arch := range archs {
			name := filepath.Base(filepath.Dir(filepath.Dir(f))) + "/" + arch
			t.Run(name, func(t *testing.T) {
				t.Parallel() // NVRTC programs are independent; use every core
				src, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				log, err := compileCUDA(string(src), filepath.Base(filepath.Dir(filepath.Dir(f)))+"/kernels.cu", arch)
				if err != nil || log != "" {
					t.Errorf("%s for %s: %v\n%s", f, arch, err, log)
				}
			})
		}
	}
}

// TestEveryShapeCompiles compiles the kernels of every built-in spec,
// including those not committed under generated/.
func TestEveryShapeCompiles(t *testing.T) {
	for _, spec := range []string{"resnet50_v1"} {
		g, err := frontend.Load(spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := passes.ForTraining(g, passes.Config{})
		if err != nil {
			t.Fatal(err)
		}
		inf, err := passes.ForInference(g, passes.Config{})
		if err != nil {
			t.Fatal(err)
		}
		files, err := Generate(tr, inf, Options{Package: spec, Source: spec})
		if err != nil {
			t.Fatal(err)
		}
		log, err := compileCUDA(string(files[0].Data), spec+".cu", "compute_80")
		if err != nil || log != "" {
			t.Errorf("%s: %v\n%s", spec, err, log)
		}
	}
}

// TestBrokenKernelFails shows that the check can fail: a kernel with a type
// error is refused with NVRTC's log, and one that only warns is caught too.
func TestBrokenKernelFails(t *testing.T) {
	broken := prelude + "\nextern \"C\" __global__ void broken(float* p) { p[0] = undefined_name; }\n"
	log, err := compileCUDA(broken, "broken.cu", "compute_80")
	if err == nil || !strings.Contains(log, "undefined_name") {
		t.Fatalf("a kernel using an undefined name compiled: err %v, log %q", err, log)
	}
	warns := prelude + "\nextern \"C\" __global__ void warns(float* p) { int unused = 3; p[0] = 1; }\n"
	if log, err := compileCUDA(warns, "warns.cu", "compute_80"); err == nil && log == "" {
		t.Fatal("a kernel with an unused variable compiled without a warning; the check would miss warnings")
	}
}
