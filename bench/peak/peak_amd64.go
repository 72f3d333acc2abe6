//go:build amd64

package peak

import "golang.org/x/sys/cpu"

func available() bool    { return cpu.X86.HasAVX512F }
func loop(n int) float32 { return fmaLoopAVX512(n) }
