package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The Winograd weight transforms, U = G g G^T, straight into the GEMM's
// packed panels: training transforms every Winograd conv's weights on
// every step (twice, with the input gradient's), on one goroutine while
// the others wait, and nn's scalar float64 loops and the packing after
// them took about 6% of a ResNet-20 step. A lane is a row (output
// channel) of a 12-row panel; a call walks the panel's columns (input
// channels), whose 12 values of an element are contiguous in the packing.
// The arithmetic is nn's, in float64 and in its order without fused
// multiply-adds, so that the packings are bit for bit the same.

// winoWeightsKernel emits winoWeightsF<m>AVX512 for F(mxm, 3x3).
func winoWeightsKernel(m int) {
	name := fmt.Sprintf("winoWeightsF%dAVX512", m)
	a := m + 2
	TEXT(name, NOSPLIT, "func(dst *float32, dstStride int, w *float32, wStep, n int, idx *[9][16]int32, lanes uint16)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s writes U = G g G^T of F(%dx%d, 3x3) for n columns of a", name, m, m),
		"12-row panel: the 3x3 filter g of lane l (a row) and column c has its tap",
		"t at w[c*wStep + idx[t][l]]. Element e of column c's 12 rows goes to",
		"dst[e*dstStride + 12c:], rows past lanes (a mask) as 0.")
	dst, dstStride, w, wStep, n, idx := weightParams()
	lanes := Load(Param("lanes"), GP32())
	SHLQ(U8(2), dstStride)
	SHLQ(U8(2), wStep)
	lo, hi := GP32(), GP32()
	MOVL(lanes, lo)
	ANDL(U32(0xff), lo)
	MOVL(lanes, hi)
	SHRL(U8(8), hi)
	consts := map[float64]VecVirtual{}
	t := GP64()
	konst := func(v float64) VecVirtual {
		if z, ok := consts[v]; ok {
			return z
		}
		z := ZMM()
		MOVQ(U64(math.Float64bits(v)), t)
		VPBROADCASTQ(t, z)
		consts[v] = z
		return z
	}
	rows := gRowsEmitter(m, ZMM, func(v float64) Op { return konst(v) })
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("col")
	q := GP64()
	for h := range 2 {
		// The taps of lanes 8h to 8h+7, in float64.
		var g [9]VecVirtual
		for tap := range 9 {
			ix, f := YMM(), YMM()
			VMOVDQU32(Mem{Base: idx, Disp: 64*tap + 32*h}, ix)
			VXORPS(f, f, f)
			k := K()
			if h == 0 {
				KMOVW(lo, k)
			} else {
				KMOVW(hi, k)
			}
			VGATHERDPS(Mem{Base: w, Index: ix, Scale: 4}, k, f)
			g[tap] = ZMM()
			VCVTPS2PD(f, g[tap])
		}
		// G g down the columns, then (G g) G^T along each row.
		var c [3][]VecVirtual
		for j := range 3 {
			c[j] = rows(g[j], g[3+j], g[6+j])
		}
		MOVQ(dst, q)
		for r := range a {
			for _, z := range rows(c[0][r], c[1][r], c[2][r]) {
				y := YMM()
				VCVTPD2PS(z, y)
				if h == 0 {
					VMOVUPS(y, Mem{Base: q})
				} else {
					VMOVUPS(y.AsX(), Mem{Base: q, Disp: 32})
				}
				ADDQ(dstStride, q)
			}
		}
	}
	ADDQ(U8(48), dst)
	ADDQ(wStep, w)
	DECQ(n)
	JNZ(LabelRef("col"))
	Label("done")
	VZEROUPPER()
	RET()
}

// weightParams loads the weight kernels' common parameters.
func weightParams() (dst, dstStride, w, wStep, n, idx Register) {
	return Load(Param("dst"), GP64()), Load(Param("dstStride"), GP64()), Load(Param("w"), GP64()),
		Load(Param("wStep"), GP64()), Load(Param("n"), GP64()), Load(Param("idx"), GP64())
}

// gRowsEmitter returns the emitter of G applied to three values of
// F(mxm, 3x3), as nn's Go does it: vec allocates a register and konst
// gives a constant's operand (register or memory). It makes each constant
// it needs first, in the order the AVX-512 kernels always have.
func gRowsEmitter(m int, vec func() VecVirtual, konst func(float64) Op) func(g0, g1, g2 VecVirtual) []VecVirtual {
	if m == 2 {
		half := konst(0.5)
		return func(g0, g1, g2 VecVirtual) []VecVirtual {
			o1, o2 := vec(), vec()
			VADDPD(g1, g0, o1)
			VADDPD(g2, o1, o1)
			VMULPD(half, o1, o1) // (g0 + g1 + g2)/2
			VSUBPD(g1, g0, o2)
			VADDPD(g2, o2, o2)
			VMULPD(half, o2, o2) // (g0 - g1 + g2)/2
			return []VecVirtual{g0, o1, o2, g2}
		}
	}
	quarter, negSixth, sixth, twelfth, twentyFourth := konst(0.25), konst(-1.0/6), konst(1.0/6), konst(1.0/12), konst(1.0/24)
	return func(g0, g1, g2 VecVirtual) []VecVirtual {
		s, b, h, t := vec(), vec(), vec(), vec()
		VADDPD(g2, g0, s) // a = g0 + g2
		VMULPD(twentyFourth, g0, b)
		VMULPD(sixth, g2, t)
		VADDPD(t, b, b) // b = g0/24 + g2/6
		VMULPD(twelfth, g1, h)
		o := []VecVirtual{vec(), vec(), vec(), vec(), vec(), g2}
		VMULPD(quarter, g0, o[0])
		VADDPD(g1, s, o[1])
		VMULPD(negSixth, o[1], o[1]) // -(a + g1)/6
		VSUBPD(g1, s, o[2])
		VMULPD(negSixth, o[2], o[2]) // -(a - g1)/6
		VADDPD(h, b, o[3])
		VSUBPD(h, b, o[4])
		return o
	}
}

// winoWeightsKernelAVX2 emits winoWeightsF<m>AVX2 for F(mxm, 3x3), the
// AVX2 kernels' 6-row panels: a YMM holds four lanes in float64, so a
// column's rows go as lanes 0-3, then 4-5 (6 and 7 masked off). With 16
// registers, the constants are read from the frame, and G g's columns
// wait there for the pass along its rows.
func winoWeightsKernelAVX2(m int) {
	name := fmt.Sprintf("winoWeightsF%dAVX2", m)
	a := m + 2
	TEXT(name, 0, "func(dst *float32, dstStride int, w *float32, wStep, n int, idx *[9][16]int32, masks *[8]int32)") // not NOSPLIT: its frame holds G g
	Pragma("noescape")
	Doc(fmt.Sprintf("%s writes U = G g G^T of F(%dx%d, 3x3) for n columns of a", name, m, m),
		"6-row panel: the 3x3 filter g of lane l (a row) and column c has its tap",
		"t at w[c*wStep + idx[t][l]], read where masks[l] is -1 (lanes 6 and 7",
		"never are). Element e of column c's 6 rows goes to dst[e*dstStride +",
		"6c:], rows not read as 0.")
	consts := AllocLocal(5 * 32)
	cols := AllocLocal(3 * 6 * 32) // G g: column j's output r at 6j + r
	dst, dstStride, w, wStep, n, idx := weightParams()
	masks := Load(Param("masks"), GP64())
	SHLQ(U8(2), dstStride)
	SHLQ(U8(2), wStep)
	t := GP64()
	slot := 0
	rows := gRowsEmitter(m, YMM, func(v float64) Op {
		x, y := XMM(), YMM()
		MOVQ(U64(math.Float64bits(v)), t)
		VMOVQ(t, x)
		VBROADCASTSD(x, y)
		at := consts.Offset(32 * slot)
		slot++
		VMOVUPD(y, at)
		return at
	})
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("col")
	q := GP64()
	for h := range 2 {
		// G g down the columns, each from its taps of lanes 4h to 4h+3 in
		// float64, into the frame.
		for j := range 3 {
			var g [3]VecVirtual
			for i := range g {
				ix, f, k := XMM(), XMM(), XMM()
				VMOVDQU(Mem{Base: idx, Disp: 64*(3*i+j) + 16*h}, ix)
				VMOVDQU(Mem{Base: masks, Disp: 16 * h}, k)
				VXORPS(f, f, f)
				VGATHERDPS(k, Mem{Base: w, Index: ix, Scale: 4}, f)
				g[i] = YMM()
				VCVTPS2PD(f, g[i])
			}
			for r, o := range rows(g[0], g[1], g[2]) {
				VMOVUPD(o, cols.Offset(32*(6*j+r)))
			}
		}
		// Then along each row, each output rounded and stored.
		MOVQ(dst, q)
		for r := range a {
			var c [3]VecVirtual
			for j := range c {
				c[j] = YMM()
				VMOVUPD(cols.Offset(32*(6*j+r)), c[j])
			}
			for _, z := range rows(c[0], c[1], c[2]) {
				x := XMM()
				VCVTPD2PSY(z, x)
				if h == 0 {
					VMOVUPS(x, Mem{Base: q})
				} else {
					VMOVQ(x, Mem{Base: q, Disp: 16})
				}
				ADDQ(dstStride, q)
			}
		}
	}
	ADDQ(U8(24), dst)
	ADDQ(wStep, w)
	DECQ(n)
	JNZ(LabelRef("col"))
	Label("done")
	ret()
}
