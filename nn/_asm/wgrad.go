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

// gradDotAVX2 emits gradDotAVX2, gradDotAVX512 for AVX2's 16 YMM
// registers: a 4 x 2 block of M (8 sums, as many as FMA latency times
// issue width) with 4 rows of U and 2 of V loaded, 6 loads to 8 FMAs. The
// 8 sums reduce across their lanes by a tree of horizontal adds that
// leaves them in one register, M's rows in order.
func gradDotAVX2() {
	TEXT("gradDotAVX2", NOSPLIT, "func(kb, cb, chunks int, u *float32, ldu int, v *float32, ldv int, m *float32, ldm int, tail *int32)")
	Pragma("noescape")
	Doc("gradDotAVX2 adds to m[i*ldm+j], for i < 4*kb and j < 2*cb, the sum",
		"over t of u[i*ldu+t] * v[j*ldv+t]: t < 8*chunks, then the lanes of the",
		"next 8 whose int32 in tail[0:8] has its sign bit set (tail may enable",
		"none). kb and cb are at least 1; strides are in floats.")
	ldu, ldv := Load(Param("ldu"), GP64()), Load(Param("ldv"), GP64())
	SHLQ(U8(2), ldu)
	SHLQ(U8(2), ldv)
	ldu3 := GP64()
	LEAQ(Mem{Base: ldu, Index: ldu, Scale: 2}, ldu3)
	mask := YMM()
	tp := Load(Param("tail"), GP64())
	VMOVUPS(Mem{Base: tp}, mask)

	// acc[2*i+j] sums row i of the block of U times row j of V: the
	// order in which the reduction leaves the sums, M's row i in floats
	// 2i and 2i+1.
	acc := make([]VecVirtual, 8)
	for i := range acc {
		acc[i] = YMM()
	}
	us, vs := make([]VecVirtual, 4), make([]VecVirtual, 2)
	for i := range us {
		us[i] = YMM()
	}
	for j := range vs {
		vs[j] = YMM()
	}
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
		for i := range us {
			for j := range vs {
				VFMADD231PS(us[i], vs[j], acc[2*i+j])
			}
		}
	}
	Load(Param("chunks"), n)
	TESTQ(n, n)
	JZ(LabelRef("tail"))
	Label("chunk")
	for j := range vs {
		VMOVUPS(rowAt(q, ldv, nil, j, 0), vs[j])
	}
	for i := range us {
		VMOVUPS(rowAt(p, ldu, ldu3, i, 0), us[i])
	}
	fmas()
	ADDQ(U8(32), p)
	ADDQ(U8(32), q)
	DECQ(n)
	JNZ(LabelRef("chunk"))
	Label("tail")
	VTESTPS(mask, mask)
	JZ(LabelRef("reduce"))
	for j := range vs {
		VMASKMOVPS(rowAt(q, ldv, nil, j, 0), mask, vs[j])
	}
	for i := range us {
		VMASKMOVPS(rowAt(p, ldu, ldu3, i, 0), mask, us[i])
	}
	fmas()

	// Pairs of sums, then pairs of those: h[k] holds in each 128-bit lane
	// the sums of that lane's floats of acc[4k:4k+4]; the two lanes add.
	Label("reduce")
	VHADDPS(acc[1], acc[0], acc[0])
	VHADDPS(acc[3], acc[2], acc[2])
	VHADDPS(acc[5], acc[4], acc[4])
	VHADDPS(acc[7], acc[6], acc[6])
	VHADDPS(acc[2], acc[0], acc[0])
	VHADDPS(acc[6], acc[4], acc[4])
	VPERM2F128(U8(0x20), acc[4], acc[0], acc[1])
	VPERM2F128(U8(0x31), acc[4], acc[0], acc[3])
	s := acc[5]
	VADDPS(acc[3], acc[1], s)

	// M's 4 rows of 2 floats: rows 0 and 1 in the low 128 bits of s,
	// rows 2 and 3 in the high.
	ldm := GP64()
	Load(Param("ldm"), ldm)
	SHLQ(U8(2), ldm)
	ldm3 := GP64()
	LEAQ(Mem{Base: ldm, Index: ldm, Scale: 2}, ldm3)
	lo, hi := us[0].AsX(), us[1].AsX()
	VMOVSD(rowAt(mrow, ldm, ldm3, 0, 0), lo)
	VMOVHPS(rowAt(mrow, ldm, ldm3, 1, 0), lo, lo)
	VMOVSD(rowAt(mrow, ldm, ldm3, 2, 0), hi)
	VMOVHPS(rowAt(mrow, ldm, ldm3, 3, 0), hi, hi)
	VINSERTF128(U8(1), hi, us[0], us[0])
	VADDPS(s, us[0], us[0])
	VEXTRACTF128(U8(1), us[0], hi)
	VMOVLPS(lo, rowAt(mrow, ldm, ldm3, 0, 0))
	VMOVHPS(lo, rowAt(mrow, ldm, ldm3, 1, 0))
	VMOVLPS(hi, rowAt(mrow, ldm, ldm3, 2, 0))
	VMOVHPS(hi, rowAt(mrow, ldm, ldm3, 3, 0))

	// The next 2 rows of V (2 columns of M).
	LEAQ(Mem{Base: vb, Index: ldv, Scale: 2}, vb)
	ADDQ(U8(8), mrow)
	DECQ(cbn)
	JNZ(LabelRef("cblock"))
	// The next 4 rows of U (4 rows of M, from its first column).
	LEAQ(Mem{Base: ub, Index: ldu, Scale: 4}, ub)
	Load(Param("m"), mrow)
	SHLQ(U8(2), ldm)
	ADDQ(ldm, mrow)
	Store(mrow, Param("m"))
	Load(Param("kb"), n)
	DECQ(n)
	Store(n, Param("kb"))
	JNZ(LabelRef("kblock"))
	VZEROUPPER()
	RET()
}
