//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

// haveAVX512 reports whether the AVX-512 micro-kernel can run here.
var haveAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ
