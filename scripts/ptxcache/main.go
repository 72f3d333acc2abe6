//go:build nvrtc

// Command ptxcache fills resnetc's PTX cache ahead of time: it compiles
// generated kernels.cu files with the NVRTC this machine has (Debian's
// 11.8, scripts/cuda-deps.sh) for one architecture and stores each PTX
// where the generated cuda packages' Compile looks first. A GPU machine
// whose NVRTC is missing or of another version can then run binaries
// built here without compiling anything:
//
//	go run -tags nvrtc ./scripts/ptxcache -arch compute_90 -o build/gpu/cache generated/resnet20/cuda/kernels.cu
//	XDG_CACHE_HOME=build/gpu/cache ./resnet20.test
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/resnetc/resnetc/internal/atomicfile"
	"gorgonia.org/cu/nvrtc"
)

func main() {
	arch := flag.String("arch", "compute_90", "virtual architecture, as the packages name it: compute_<major><minor>")
	out := flag.String("o", "", "cache root, the XDG_CACHE_HOME the binaries will run with (required)")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: ptxcache -arch compute_90 -o DIR kernels.cu ...")
		os.Exit(2)
	}
	for _, f := range flag.Args() {
		if err := compile(f, *arch, *out); err != nil {
			fmt.Fprintln(os.Stderr, "ptxcache:", err)
			os.Exit(1)
		}
	}
}

// compile must match the key and the options of the generated Compile.
func compile(file, arch, root string) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	prog, err := nvrtc.CreateProgram(string(src), "kernels.cu")
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	defer prog.Destroy()
	if err := prog.Compile("--gpu-architecture="+arch, "--std=c++17"); err != nil {
		log, _ := prog.GetLog()
		return fmt.Errorf("%s: %w\n%s", file, err, log)
	}
	ptx, err := prog.GetPTX()
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	sum := sha256.Sum256(src)
	dst := filepath.Join(root, "resnetc", "ptx", hex.EncodeToString(sum[:12])+"-"+arch+".ptx")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	// A torn file here would be loaded as PTX, so it is written whole or not at all.
	if err := atomicfile.Write(dst, []byte(ptx)); err != nil {
		return err
	}
	fmt.Printf("%s: %s (%d bytes)\n", file, dst, len(ptx))
	return nil
}
