// Command _asm generates nn's GEMM micro-kernels in Go assembly with avo:
//
//	cd nn/_asm && go run . -out ../gemm_amd64.s -stubs ../gemm_stub_amd64.go -pkg nn
//
// (go generate in nn runs it). It is its own module so that avo is not a
// dependency of the packages an application vendors.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	Package("github.com/resnetc/resnetc/nn")
	ConstraintExpr("amd64,!purego")
	kernelAVX512()
	kernelAVX2()
	Generate()
}

// kernelAVX512 is an 8 x 32 tile: 16 ZMM accumulators, two ZMM rows of B
// per step of k and one broadcast of A per row, 16 FMAs per step.
func kernelAVX512() {
	TEXT("kernel8x32AVX512", NOSPLIT, "func(kc int, a, b, c *float32)")
	Doc("kernel8x32AVX512 sets c, an 8x32 row-major tile, to the product of a packed",
		"8 x kc panel a (8 values per step of k) and a packed kc x 32 panel b (32 values",
		"per step of k). kc must be at least 1.")
	kc := Load(Param("kc"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	acc := make([]VecVirtual, 16)
	for i := range acc {
		acc[i] = ZMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	b0, b1, t := ZMM(), ZMM(), ZMM()
	Label("loop")
	VMOVUPS(Mem{Base: b}, b0)
	VMOVUPS(Mem{Base: b, Disp: 64}, b1)
	for i := 0; i < 8; i++ {
		VBROADCASTSS(Mem{Base: a, Disp: 4 * i}, t)
		VFMADD231PS(b0, t, acc[2*i])
		VFMADD231PS(b1, t, acc[2*i+1])
	}
	ADDQ(U32(32), a)
	ADDQ(U32(128), b)
	DECQ(kc)
	JNZ(LabelRef("loop"))
	for i := 0; i < 8; i++ {
		VMOVUPS(acc[2*i], Mem{Base: c, Disp: 128 * i})
		VMOVUPS(acc[2*i+1], Mem{Base: c, Disp: 128*i + 64})
	}
	VZEROUPPER()
	RET()
}

// kernelAVX2 is a 4 x 24 tile for AVX2 with FMA: 12 YMM accumulators,
// three YMM rows of B per step of k and one broadcast of A per row.
func kernelAVX2() {
	TEXT("kernel4x24AVX2", NOSPLIT, "func(kc int, a, b, c *float32)")
	Doc("kernel4x24AVX2 sets c, a 4x24 row-major tile, to the product of a packed",
		"4 x kc panel a (4 values per step of k) and a packed kc x 24 panel b (24 values",
		"per step of k). kc must be at least 1.")
	kc := Load(Param("kc"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	acc := make([]VecVirtual, 12)
	for i := range acc {
		acc[i] = YMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	bs := []VecVirtual{YMM(), YMM(), YMM()}
	t := YMM()
	Label("loop2")
	for j := range bs {
		VMOVUPS(Mem{Base: b, Disp: 32 * j}, bs[j])
	}
	for i := 0; i < 4; i++ {
		VBROADCASTSS(Mem{Base: a, Disp: 4 * i}, t)
		for j := range bs {
			VFMADD231PS(bs[j], t, acc[3*i+j])
		}
	}
	ADDQ(U32(16), a)
	ADDQ(U32(96), b)
	DECQ(kc)
	JNZ(LabelRef("loop2"))
	for i := 0; i < 4; i++ {
		for j := range bs {
			VMOVUPS(acc[3*i+j], Mem{Base: c, Disp: 96*i + 32*j})
		}
	}
	VZEROUPPER()
	RET()
}
