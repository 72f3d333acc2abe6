//go:build !amd64 || purego

package nn

// haveAVX512 is false without the assembly (other architectures, or the
// purego build tag): the pure-Go kernel runs.
var (
	haveAVX512 = false
	haveAVX2   = false
)

// avx512Kernels is empty without the assembly; useAVX512 is never true.
var avx512Kernels [13]func(kc int, a, b, c *float32, ldc int, mask uint32, flags int, bias, res *float32, ldr int)

func kernel4x24AVX2(kc int, a, b, c *float32) {
	panic("nn: the AVX2 kernel is not in this build")
}
