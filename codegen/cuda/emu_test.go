//go:build cudaemu

package cudagen

// The emulation test runs a generated CUDA host package, kernels and all,
// on the CPU: kernels.cu is compiled as C++ against emu.h (a block's
// threads are real threads at a barrier), and gorgonia.org/cu is replaced
// by testdata/fakecu, whose device memory is host memory. The host
// package's own TestMatchesCPU then compares Forward and two SGD steps with
// the CPU package at its 1e-4 tolerance. It needs g++ (C++20) and cgo, no
// GPU and no CUDA:
//
//	go test -tags cudaemu -run Emulated ./codegen/cuda
//
// TestEmulatedTrainCommand does the same for resnetc-train -device cuda.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	gogen "github.com/resnetc/resnetc/codegen/go"
	"github.com/resnetc/resnetc/expand"
	"github.com/resnetc/resnetc/frontend"
	"github.com/resnetc/resnetc/passes"
)

var entryParams = regexp.MustCompile(`extern "C" __global__ void __launch_bounds__\(RN_THREADS\) (\w+)\(([^)]*)\)`)

// dispatch is the C++ table that finds an entry point by name and unpacks
// its 8-byte arguments.
func dispatch(src string) string {
	var b, table strings.Builder
	for _, m := range entryParams.FindAllStringSubmatch(src, -1) {
		var args []string
		for i, p := range strings.Split(m[2], ",") {
			p = strings.TrimSpace(p)
			typ := p[:strings.LastIndexAny(p, " *")+1]
			switch {
			case strings.Contains(typ, "*"):
				args = append(args, fmt.Sprintf("(%s)(uintptr_t)*(uint64_t*)a[%d]", strings.TrimSpace(typ), i))
			default:
				args = append(args, fmt.Sprintf("*(%s*)a[%d]", strings.TrimSpace(typ), i))
			}
		}
		fmt.Fprintf(&b, "static void w_%s(void** a) { %s(%s); }\n", m[1], m[1], strings.Join(args, ", "))
		fmt.Fprintf(&table, "\t\t{%q, w_%s},\n", m[1], m[1])
	}
	fmt.Fprintf(&b, "typedef void (*emu_wrapper)(void**);\nextern \"C\" emu_wrapper emu_lookup(const char* name) {\n\tstatic const struct { const char* n; emu_wrapper w; } table[] = {\n%s\t};\n\tfor (auto& e : table) if (strcmp(e.n, name) == 0) return e.w;\n\treturn nullptr;\n}\n", table.String())
	return b.String()
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// emuCases are the networks the emulation runs: ResNet-20 (option A
// shortcuts) and small ImageNet-style nets (7x7 stem, max pooling, option B
// projections, bottlenecks) at sizes the CPU can emulate. The 32-pixel
// ResNet-50 (2 minutes; its batch norms see 3 values a channel in layer4,
// so training there is chaotic and only its Forward is a sharp check) runs
// with RESNETC_EMU_ALL=1.
var emuCases = []struct {
	name, spec string
	defines    []expand.Define
	all        bool
}{
	{"resnet20", "cifar_resnet", []expand.Define{{Name: "n", Value: "3"}}, false},
	{"resnet18_64px", "resnet18", []expand.Define{{Name: "size", Value: "64"}, {Name: "classes", Value: "10"}}, false},
	{"resnet50_32px", "resnet50", []expand.Define{{Name: "size", Value: "32"}, {Name: "classes", Value: "10"}}, true},
}

func TestEmulatedMatchesCPU(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range emuCases {
		t.Run(c.name, func(t *testing.T) {
			if c.all && os.Getenv("RESNETC_EMU_ALL") == "" {
				t.Skip("set RESNETC_EMU_ALL=1 to run it")
			}
			dir := t.TempDir()
			g, err := frontend.Load(c.spec, c.defines)
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
			cpuFiles, err := gogen.Generate(tr, inf, gogen.Options{Package: "net", Source: c.spec})
			if err != nil {
				t.Fatal(err)
			}
			// Blocks this small split the reductions of a batch of 3 into
			// several uneven parts, as a GPU's batch of 128 would be.
			cudaFiles, err := Generate(tr, inf, Options{Package: "net", Source: c.spec, CPUImport: "emu/net", SplitPositions: 1500, BNPartValues: 700})
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Join(dir, "net", "cuda"), 0o755)
			for _, f := range cpuFiles {
				if f.Name != "model_test.go" {
					os.WriteFile(filepath.Join(dir, "net", f.Name), f.Data, 0o644)
				}
			}
			for _, f := range cudaFiles {
				os.WriteFile(filepath.Join(dir, "net", filepath.FromSlash(f.Name)), f.Data, 0o644)
			}
			emuModule(t, dir, root, string(cudaFiles[0].Data))
			out, err := emuGo(dir, "test", "-tags", "cuda", "-run", "TestMatchesCPU", "-v", "-count=1", "./net/cuda")
			t.Logf("%s", out)
			if err != nil {
				t.Fatalf("the emulated CUDA package failed: %v", err)
			}
		})
	}
}

// emuModule makes dir a module "emu" in which gorgonia.org/cu is
// testdata/fakecu running the kernels of src (a kernels.cu) on the CPU,
// and github.com/resnetc/resnetc is the checkout at root.
func emuModule(t *testing.T, dir, root, src string) {
	t.Helper()
	copyDir(t, "testdata/fakecu", filepath.Join(dir, "fakecu"))
	cpp := "#include <string.h>\n#include \"emu.h\"\n" + src + "\n" + dispatch(src)
	if err := os.WriteFile(filepath.Join(dir, "fakecu", "kernels.cpp"), []byte(cpp), 0o644); err != nil {
		t.Fatal(err)
	}
	gomod := fmt.Sprintf("module emu\n\ngo 1.26\n\nrequire (\n\tgithub.com/resnetc/resnetc v0.0.0\n\tgorgonia.org/cu v0.9.6\n)\n\nreplace github.com/resnetc/resnetc => %s\n\nreplace gorgonia.org/cu => ./fakecu\n", root)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644)
	sum, _ := os.ReadFile(filepath.Join(root, "go.sum"))
	os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644)
}

// emuGo runs the go command in an emulation module.
func emuGo(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "CGO_ENABLED=1")
	return cmd.CombinedOutput()
}

// TestEmulatedTrainCommand trains the committed generated/resnet20 on
// Fashion-MNIST with resnetc-train -device cuda, built against the
// emulation: 6 iterations in one go, and 3 then a resume to 6. The two
// weights files must be the same bytes, which takes the command's device
// wrapper, train's Mirror (pull before a checkpoint, push after a resume)
// and the cuda package's momentum and weights I/O all working.
func TestEmulatedTrainCommand(t *testing.T) {
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"); err != nil {
		t.Skip("needs dataset-fashion-mnist")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "generated", "resnet20", "cuda", "kernels.cu"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	emuModule(t, dir, root, string(src))
	bin := filepath.Join(dir, "resnetc-train")
	if out, err := emuGo(dir, "build", "-tags", "cuda", "-o", bin, "github.com/resnetc/resnetc/cmd/resnetc-train"); err != nil {
		t.Fatalf("building resnetc-train against the emulation: %v\n%s", err, out)
	}
	train := func(out string, iters int, resume bool) {
		t.Helper()
		args := []string{"-device", "cuda", "-model", "resnet20", "-data", "fashion-mnist", "-subset", "64", "-batch", "4",
			"-eval-every", "3", "-test-subset", "20", "-val", "0", "-checkpoint-every", "3", "-milestones", "100",
			"-iters", fmt.Sprint(iters), "-o", filepath.Join(dir, out)}
		if resume {
			args = append(args, "-resume")
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("resnetc-train %v: %v\n%s", args, err, b)
		}
	}
	train("whole", 6, false)
	train("resumed", 3, false)
	train("resumed", 6, true)
	a, errA := os.ReadFile(filepath.Join(dir, "whole", "weights.safetensors"))
	b, errB := os.ReadFile(filepath.Join(dir, "resumed", "weights.safetensors"))
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("the resumed run's weights.safetensors differs from the uninterrupted run's")
	}
}
