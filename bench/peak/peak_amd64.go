//go:build amd64

package peak

import "golang.org/x/sys/cpu"

// The widest FMA loop the machine runs: ZMM with AVX-512, else YMM.
var (
	hasAVX512 = cpu.X86.HasAVX512F
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

func available() bool { return hasAVX512 || hasAVX2 }

// loop runs n iterations and returns their flops per iteration too.
func loop(n int) (float32, int) {
	if hasAVX512 {
		return fmaLoopAVX512(n), 12 * 16 * 2
	}
	return fmaLoopAVX2(n), 12 * 8 * 2
}

// Kind names the loop, for the reports.
func Kind() string {
	switch {
	case hasAVX512:
		return "AVX-512"
	case hasAVX2:
		return "AVX2+FMA"
	}
	return "none"
}
