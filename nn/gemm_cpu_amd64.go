//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

// haveAVX512 and haveAVX2 report which assembly micro-kernels can run here.
var (
	haveAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ
	haveAVX2   = cpu.X86.HasAVX && cpu.X86.HasAVX2 && cpu.X86.HasFMA
)
