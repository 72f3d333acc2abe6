package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// gradDot emits gradDotAVX512, a weight gradient's GEMM M (K x C) += U (K x
// T) V^T (T x C) on U and V as they lie in memory: a row per channel, the
// T values summed over along it. That is how the Winograd weight gradient's
// transforms write U_e and V_e (a lane per tile), and how dY and im2col's
// columns lie (a value per pixel). The GEMM kernels need both operands
// transposed, a pack each that cost as much as the multiplies on the
// CIFAR nets' 16 channels. Each 4 x 4 block of M keeps its 16 sums in 16
// registers, 16 values of T a lane, and adds them across the lanes once.
func gradDot() {
	TEXT("gradDotAVX512", NOSPLIT, "func(kb, cb, chunks int, u *float32, ldu int, v *float32, ldv int, m *float32, ldm int, tail uint16)")
	Pragma("noescape")
	Doc("gradDotAVX512 adds to m[i*ldm+j], for i < 4*kb and j < 4*cb, the sum",
		"over t of u[i*ldu+t] * v[j*ldv+t]: t < 16*chunks, then the lanes of tail",
		"(a mask of low bits, may be 0) of the next 16. kb and cb are at least 1;",
		"strides are in floats.")
	ldu, ldv := Load(Param("ldu"), GP64()), Load(Param("ldv"), GP64())
	SHLQ(U8(2), ldu)
	SHLQ(U8(2), ldv)
	ldu3, ldv3 := GP64(), GP64()
	LEAQ(Mem{Base: ldu, Index: ldu, Scale: 2}, ldu3)
	LEAQ(Mem{Base: ldv, Index: ldv, Scale: 2}, ldv3)
	tail := K()
	tm := GP32()
	Load(Param("tail"), tm)
	KMOVW(tm, tail)

	// acc[4*j+i] sums row i of the block of U times row j of V: in that
	// order the reduction below leaves M's row i in the register's 128-bit
	// lane i.
	acc := make([]VecVirtual, 16)
	for i := range acc {
		acc[i] = ZMM()
	}
	us, vs := make([]VecVirtual, 4), make([]VecVirtual, 4)
	for i := range us {
		us[i], vs[i] = ZMM(), ZMM()
	}
	row := func(base, ld, ld3 Register, i int) Mem { return rowAt(base, ld, ld3, i, 0) }

	ub, vb, mrow, cbn := GP64(), GP64(), GP64(), GP64()
	p, q, n := GP64(), GP64(), GP64()
	Load(Param("u"), ub)
	Load(Param("m"), mrow)
	Label("kblock")
	Load(Param("v"), vb)
	Load(Param("cb"), cbn)
	Label("cblock")
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	MOVQ(ub, p)
	MOVQ(vb, q)
	fmas := func() {
		for j := range vs {
			for i := range us {
				VFMADD231PS(us[i], vs[j], acc[4*j+i])
			}
		}
	}
	Load(Param("chunks"), n)
	TESTQ(n, n)
	JZ(LabelRef("tail"))
	Label("chunk")
	for i := range us {
		VMOVUPS(row(p, ldu, ldu3, i), us[i])
		VMOVUPS(row(q, ldv, ldv3, i), vs[i])
	}
	fmas()
	chunkLoopEnd(p, q, n, tail)
	for i := range us {
		VMOVUPS_Z(row(p, ldu, ldu3, i), tail, us[i])
		VMOVUPS_Z(row(q, ldv, ldv3, i), tail, vs[i])
	}
	fmas()

	// Across the lanes, pairing registers at each level: first their
	// 256-bit halves, then 128-bit lanes, then pairs of floats, then
	// floats. After it, float 4i+j of s is the sum of acc[4j+i].
	Label("reduce")
	level := acc
	tmp := append(append([]VecVirtual{}, us...), vs...)
	for _, step := range []struct {
		lo, hi uint8
		lanes  bool // 128-bit lanes (VSHUFF32X4), else floats in each lane (VSHUFPS)
	}{{0x44, 0xee, true}, {0x88, 0xdd, true}, {0x44, 0xee, false}, {0x88, 0xdd, false}} {
		next := level[:len(level)/2]
		for k := range next {
			a, b := level[2*k], level[2*k+1]
			lo, hi := tmp[2*(k%4)], tmp[2*(k%4)+1]
			if step.lanes {
				VSHUFF32X4(U8(step.lo), b, a, lo)
				VSHUFF32X4(U8(step.hi), b, a, hi)
			} else {
				VSHUFPS(U8(step.lo), b, a, lo)
				VSHUFPS(U8(step.hi), b, a, hi)
			}
			VADDPS(hi, lo, next[k])
		}
		level = next
	}
	// Row i of the block of M, 4 floats, gets 128-bit lane i.
	s := level[0]
	Load(Param("ldm"), n)
	SHLQ(U8(2), n)
	MOVQ(mrow, p)
	x := tmp[0].AsX()
	for i := 0; i < 4; i++ {
		if i == 0 {
			VADDPS(Mem{Base: p}, s.AsX(), x)
		} else {
			VEXTRACTF32X4(U8(i), s, x)
			VADDPS(Mem{Base: p}, x, x)
		}
		VMOVUPS(x, Mem{Base: p})
		if i < 3 {
			ADDQ(n, p)
		}
	}
	// The next 4 rows of V (4 columns of M).
	LEAQ(Mem{Base: vb, Index: ldv, Scale: 4}, vb)
	ADDQ(U8(16), mrow)
	DECQ(cbn)
	JNZ(LabelRef("cblock"))
	// The next 4 rows of U (4 rows of M, from its first column).
	LEAQ(Mem{Base: ub, Index: ldu, Scale: 4}, ub)
	Load(Param("m"), mrow)
	Load(Param("ldm"), n)
	SHLQ(U8(4), n)
	ADDQ(n, mrow)
	Store(mrow, Param("m"))
	Load(Param("kb"), n)
	DECQ(n)
	Store(n, Param("kb"))
	JNZ(LabelRef("kblock"))
	VZEROUPPER()
	RET()
}

// chunkLoopEnd closes a loop at label chunk over two rows read 16 floats
// (64 bytes) a pass, p and q, n passes counted down; then, at label tail,
// it jumps to label reduce when the mask of the rows' last floats, tail,
// is empty.
func chunkLoopEnd(p, q, n, tail Register) {
	ADDQ(U8(64), p)
	ADDQ(U8(64), q)
	DECQ(n)
	JNZ(LabelRef("chunk"))
	Label("tail")
	KORTESTW(tail, tail)
	JZ(LabelRef("reduce"))
}
