//go:build !amd64 || purego

package nn

// haveAVX512 is false without the assembly (other architectures, or the
// purego build tag): the pure-Go kernel runs.
var (
	haveAVX512 = false
	haveAVX2   = false
)

func kernel12x32AVX512(kc int, a, b, c *float32, ldc int, accumulate bool) {
	panic("nn: the AVX-512 kernel is not in this build")
}

func kernel4x24AVX2(kc int, a, b, c *float32) {
	panic("nn: the AVX2 kernel is not in this build")
}
