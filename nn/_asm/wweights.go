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
	dst := Load(Param("dst"), GP64())
	dstStride := Load(Param("dstStride"), GP64())
	w := Load(Param("w"), GP64())
	wStep := Load(Param("wStep"), GP64())
	n := Load(Param("n"), GP64())
	idx := Load(Param("idx"), GP64())
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
	// rows applies G to three values, as nn's Go does.
	var rows func(g0, g1, g2 VecVirtual) []VecVirtual
	if m == 2 {
		half := konst(0.5)
		rows = func(g0, g1, g2 VecVirtual) []VecVirtual {
			o1, o2 := ZMM(), ZMM()
			VADDPD(g1, g0, o1)
			VADDPD(g2, o1, o1)
			VMULPD(half, o1, o1) // (g0 + g1 + g2)/2
			VSUBPD(g1, g0, o2)
			VADDPD(g2, o2, o2)
			VMULPD(half, o2, o2) // (g0 - g1 + g2)/2
			return []VecVirtual{g0, o1, o2, g2}
		}
	} else {
		quarter, negSixth, sixth, twelfth, twentyFourth := konst(0.25), konst(-1.0/6), konst(1.0/6), konst(1.0/12), konst(1.0/24)
		rows = func(g0, g1, g2 VecVirtual) []VecVirtual {
			s, b, h, t := ZMM(), ZMM(), ZMM(), ZMM()
			VADDPD(g2, g0, s) // a = g0 + g2
			VMULPD(twentyFourth, g0, b)
			VMULPD(sixth, g2, t)
			VADDPD(t, b, b) // b = g0/24 + g2/6
			VMULPD(twelfth, g1, h)
			o := []VecVirtual{ZMM(), ZMM(), ZMM(), ZMM(), ZMM(), g2}
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
