package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The batch-norm kernels for AVX2: bn.go's, with their signatures and
// their chunks of 16 values, each chunk two YMM of floats or four of
// float64. A chunk's 16 bits of ReLU mask become lane masks by a
// broadcast, an and with each lane's bit and a compare; a chunk's mask
// bits come from the compares' sign bits (VMOVMSKPS).

// avx2MaskBits loads the lanes' bits (1, 2, 4 ... 32768) into two YMM.
func avx2MaskBits() [2]VecVirtual {
	var b [2]VecVirtual
	for h := range b {
		idx := make([]int32, 8)
		for l := range idx {
			idx[l] = 1 << (8*h + l)
		}
		b[h] = laneTable(idx)
	}
	return b
}

// avx2ChunkMask sets m[0] and m[1] to all ones in the lanes whose bit of
// the 16-bit mask at p is set.
func avx2ChunkMask(p Mem, bits [2]VecVirtual, m [2]VecVirtual) {
	w := GP32()
	MOVWLZX(p, w)
	x := XMM()
	VMOVD(w, x)
	all := YMM()
	VPBROADCASTD(x, all)
	for h := range m {
		VPAND(bits[h], all, m[h])
		VPCMPEQD(bits[h], m[h], m[h])
	}
}

// bnSumAVX2 emits bnSumAVX2.
func bnSumAVX2() {
	TEXT("bnSumAVX2", NOSPLIT, "func(rows, n int, x *float32, shift *float64, acc *[16]float64)")
	Pragma("noescape")
	Doc("bnSumAVX2 is bnSumAVX512 for AVX2: it adds, lane by lane, x[i]-shift[r]",
		"to acc[r][0:8] and (x[i]-shift[r])^2 to acc[r][8:16] over row r,",
		"x[r*n:(r+1)*n], for each of rows rows, in float64; n is a multiple of",
		"16 and rows at least 1.")
	rows := Load(Param("rows"), GP64())
	x := Load(Param("x"), GP64())
	shift := Load(Param("shift"), GP64())
	acc := Load(Param("acc"), GP64())
	chunks := Load(Param("n"), GP64())
	SHRQ(U8(4), chunks)
	n := GP64()
	sh := YMM()
	Label("row")
	VBROADCASTSD(Mem{Base: shift}, sh)
	// Two sums and two squares for each half of acc's 8 lanes, so that
	// consecutive adds do not wait on one another.
	var s, q [4]VecVirtual
	for i := range s {
		s[i], q[i] = YMM(), YMM()
		if i < 2 {
			VMOVUPD(Mem{Base: acc, Disp: 32 * i}, s[i])
			VMOVUPD(Mem{Base: acc, Disp: 64 + 32*i}, q[i])
		} else {
			VXORPD(s[i], s[i], s[i])
			VXORPD(q[i], q[i], q[i])
		}
	}
	MOVQ(chunks, n)
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("loop")
	for i := range 4 {
		d := YMM()
		VCVTPS2PD(Mem{Base: x, Disp: 16 * i}, d)
		VSUBPD(sh, d, d)
		VADDPD(d, s[i], s[i])
		VFMADD231PD(d, d, q[i])
	}
	ADDQ(U8(64), x)
	DECQ(n)
	JNZ(LabelRef("loop"))
	Label("done")
	for i := range 2 {
		VADDPD(s[i+2], s[i], s[i])
		VADDPD(q[i+2], q[i], q[i])
		VMOVUPD(s[i], Mem{Base: acc, Disp: 32 * i})
		VMOVUPD(q[i], Mem{Base: acc, Disp: 64 + 32*i})
	}
	ADDQ(U8(8), shift)
	ADDQ(U32(128), acc)
	DECQ(rows)
	JNZ(LabelRef("row"))
	VZEROUPPER()
	RET()
}

// bnGradSumAVX2 emits bnGradSumAVX2.
func bnGradSumAVX2() {
	TEXT("bnGradSumAVX2", NOSPLIT, "func(rows, n int, dy, x *float32, mask *uint16, mean *float64, relu int, acc *[16]float64)")
	Pragma("noescape")
	Doc("bnGradSumAVX2 is bnGradSumAVX512 for AVX2: it adds, lane by lane, g to",
		"acc[r][0:8] and g*(x[i]-mean[r]) to acc[r][8:16] over row r,",
		"[r*n:(r+1)*n], for each of rows rows, in float64, where g is dy[i], or",
		"0 where relu is not 0 and bit i%16 of mask[i/16] is 0; n is a multiple",
		"of 16 and rows at least 1.")
	rows := Load(Param("rows"), GP64())
	dy := Load(Param("dy"), GP64())
	x := Load(Param("x"), GP64())
	y := Load(Param("mask"), GP64())
	relu := Load(Param("relu"), GP64())
	acc := Load(Param("acc"), GP64())
	means := Load(Param("mean"), GP64())
	chunks := Load(Param("n"), GP64())
	SHRQ(U8(4), chunks)
	n := GP64()
	bits := avx2MaskBits()
	Label("row")
	mean := YMM()
	VBROADCASTSD(Mem{Base: means}, mean)
	var s, q [2]VecVirtual
	for i := range s {
		s[i], q[i] = YMM(), YMM()
		VMOVUPD(Mem{Base: acc, Disp: 32 * i}, s[i])
		VMOVUPD(Mem{Base: acc, Disp: 64 + 32*i}, q[i])
	}
	MOVQ(chunks, n)
	TESTQ(n, n)
	JZ(LabelRef("done"))
	TESTQ(relu, relu)
	JZ(LabelRef("plain"))
	for _, masked := range []bool{true, false} {
		if masked {
			Label("masked")
		} else {
			Label("plain")
		}
		var m [2]VecVirtual
		if masked {
			m = [2]VecVirtual{YMM(), YMM()}
			avx2ChunkMask(Mem{Base: y}, bits, m)
		}
		for h := range 2 {
			// The ReLU's dead positions read as 0.
			g := YMM()
			VMOVUPS(Mem{Base: dy, Disp: 32 * h}, g)
			if masked {
				VANDPS(m[h], g, g)
			}
			gh := XMM()
			VEXTRACTF128(U8(1), g, gh)
			for i, part := range []Op{g.AsX(), gh} {
				gd, xd := YMM(), YMM()
				VCVTPS2PD(part, gd)
				VCVTPS2PD(Mem{Base: x, Disp: 32*h + 16*i}, xd)
				VSUBPD(mean, xd, xd)
				VADDPD(gd, s[i], s[i])
				VFMADD231PD(gd, xd, q[i])
			}
		}
		ADDQ(U8(64), dy)
		ADDQ(U8(64), x)
		ADDQ(U8(2), y)
		DECQ(n)
		if masked {
			JNZ(LabelRef("masked"))
			JMP(LabelRef("done"))
		} else {
			JNZ(LabelRef("plain"))
		}
	}
	Label("done")
	for i := range 2 {
		VMOVUPD(s[i], Mem{Base: acc, Disp: 32 * i})
		VMOVUPD(q[i], Mem{Base: acc, Disp: 64 + 32*i})
	}
	ADDQ(U8(8), means)
	ADDQ(U32(128), acc)
	DECQ(rows)
	JNZ(LabelRef("row"))
	VZEROUPPER()
	RET()
}

// bnApplyAVX2 emits bnApplyAVX2, one loop per combination of its flags.
func bnApplyAVX2() {
	TEXT("bnApplyAVX2", NOSPLIT, "func(rows, n int, x, y, res *float32, mask *uint16, coef *[4]float32, flags int)")
	Pragma("noescape")
	Doc("bnApplyAVX2 is bnApplyAVX512 for AVX2: it writes y[i] =",
		"(x[i]-coef[r][0])*coef[r][1] + coef[r][2] over row r, [r*n:(r+1)*n], for",
		"each of rows rows, then, with flag 1, adds res[i] and, with flag 2, takes",
		"max(., 0) and sets bit i%16 of mask[i/16] where y[i] is not <= 0 (a",
		"NaN's too); n is a multiple of 16 and rows at least 1.")
	rows := Load(Param("rows"), GP64())
	chunks := Load(Param("n"), GP64())
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	res := Load(Param("res"), GP64())
	mask := Load(Param("mask"), GP64())
	coef := Load(Param("coef"), GP64())
	flags := Load(Param("flags"), GP64())
	n := GP64()
	m, scale, b, zero := YMM(), YMM(), YMM(), YMM()
	VXORPS(zero, zero, zero)
	SHRQ(U8(4), chunks)
	JZ(LabelRef("done"))
	for f := 0; f < 4; f++ {
		CMPQ(flags, U8(f))
		JE(LabelRef(fmt.Sprintf("row%d", f)))
	}
	JMP(LabelRef("done"))
	for f := 0; f < 4; f++ {
		Label(fmt.Sprintf("row%d", f))
		VBROADCASTSS(Mem{Base: coef}, m)
		VBROADCASTSS(Mem{Base: coef, Disp: 4}, scale)
		VBROADCASTSS(Mem{Base: coef, Disp: 8}, b)
		MOVQ(chunks, n)
		Label(fmt.Sprintf("loop%d", f))
		var bitsLo, bitsHi Register
		for h := range 2 {
			v := YMM()
			VMOVUPS(Mem{Base: x, Disp: 32 * h}, v)
			VSUBPS(m, v, v)
			VFMADD213PS(b, scale, v)
			if f&1 != 0 {
				VADDPS(Mem{Base: res, Disp: 32 * h}, v, v)
			}
			if f&2 != 0 {
				VMAXPS(v, zero, v) // v is the source a NaN comes from: it passes, as through Go's max
				// The backward pass's mask: y not <= 0 (NLE, true for a
				// NaN; Go operand order: src2, src1).
				c := YMM()
				VCMPPS(U8(6), zero, v, c)
				bits := GP32()
				VMOVMSKPS(c, bits)
				if h == 0 {
					bitsLo = bits
				} else {
					bitsHi = bits
				}
			}
			VMOVUPS(v, Mem{Base: y, Disp: 32 * h})
		}
		if f&1 != 0 {
			ADDQ(U8(64), res)
		}
		if f&2 != 0 {
			SHLL(U8(8), bitsHi)
			ORL(bitsHi, bitsLo)
			MOVW(bitsLo.(GPVirtual).As16(), Mem{Base: mask})
			ADDQ(U8(2), mask)
		}
		ADDQ(U8(64), x)
		ADDQ(U8(64), y)
		DECQ(n)
		JNZ(LabelRef(fmt.Sprintf("loop%d", f)))
		ADDQ(U8(16), coef)
		DECQ(rows)
		JNZ(LabelRef(fmt.Sprintf("row%d", f)))
		JMP(LabelRef("done"))
	}
	Label("done")
	VZEROUPPER()
	RET()
}

// bnGradApplyAVX2 emits bnGradApplyAVX2, one loop per combination of its
// flags.
func bnGradApplyAVX2() {
	TEXT("bnGradApplyAVX2", NOSPLIT, "func(rows, n int, dy, x *float32, mask *uint16, dx, dres *float32, coef *[8]float32, flags int)")
	Pragma("noescape")
	Doc("bnGradApplyAVX2 is bnGradApplyAVX512 for AVX2: it takes g = dy[i] (0",
		"where flag 1, the ReLU, is set and bit i%16 of mask[i/16] is 0) over row",
		"r, [r*n:(r+1)*n], for each of rows rows; with flag 2 it adds g to",
		"dres[i], and with flag 4 it adds",
		"coef[r][2]*(g - coef[r][3] - (x[i]-coef[r][0])*coef[r][1]*coef[r][4])",
		"to dx[i]. Flag 8 (with 2) stores into dres instead of adding, flag 16",
		"(with 4) into dx. n is a multiple of 16 and rows at least 1.")
	rows := Load(Param("rows"), GP64())
	chunks := Load(Param("n"), GP64())
	dy := Load(Param("dy"), GP64())
	x := Load(Param("x"), GP64())
	y := Load(Param("mask"), GP64())
	dx := Load(Param("dx"), GP64())
	dres := Load(Param("dres"), GP64())
	coef := Load(Param("coef"), GP64())
	flags := Load(Param("flags"), GP64())
	n := GP64()
	bits := avx2MaskBits()
	mean, invStd, kk, meanG, meanGX := YMM(), YMM(), YMM(), YMM(), YMM()
	SHRQ(U8(4), chunks)
	JZ(LabelRef("done"))
	// One loop for each combination of flags: 8 only with 2, 16 only
	// with 4.
	var combos []int
	for f := 0; f < 32; f++ {
		if f&8 != 0 && f&2 == 0 || f&16 != 0 && f&4 == 0 {
			continue
		}
		combos = append(combos, f)
		CMPQ(flags, U8(f))
		JE(LabelRef(fmt.Sprintf("row%d", f)))
	}
	JMP(LabelRef("done"))
	for _, f := range combos {
		Label(fmt.Sprintf("row%d", f))
		for i, r := range []VecVirtual{mean, invStd, kk, meanG, meanGX} {
			VBROADCASTSS(Mem{Base: coef, Disp: 4 * i}, r)
		}
		MOVQ(chunks, n)
		Label(fmt.Sprintf("loop%d", f))
		var m [2]VecVirtual
		if f&1 != 0 {
			m = [2]VecVirtual{YMM(), YMM()}
			avx2ChunkMask(Mem{Base: y}, bits, m)
			ADDQ(U8(2), y)
		}
		for h := range 2 {
			g, t := YMM(), YMM()
			VMOVUPS(Mem{Base: dy, Disp: 32 * h}, g)
			if f&1 != 0 {
				VANDPS(m[h], g, g)
			}
			if f&8 != 0 {
				VMOVUPS(g, Mem{Base: dres, Disp: 32 * h})
			} else if f&2 != 0 {
				VADDPS(Mem{Base: dres, Disp: 32 * h}, g, t)
				VMOVUPS(t, Mem{Base: dres, Disp: 32 * h})
			}
			if f&4 != 0 {
				xh := YMM()
				VMOVUPS(Mem{Base: x, Disp: 32 * h}, xh)
				VSUBPS(mean, xh, xh)
				VMULPS(invStd, xh, xh)
				VSUBPS(meanG, g, t)
				VFNMADD231PS(xh, meanGX, t)
				if f&16 != 0 {
					VMULPS(t, kk, xh)
				} else {
					VMOVUPS(Mem{Base: dx, Disp: 32 * h}, xh)
					VFMADD231PS(t, kk, xh)
				}
				VMOVUPS(xh, Mem{Base: dx, Disp: 32 * h})
			}
		}
		if f&2 != 0 {
			ADDQ(U8(64), dres)
		}
		if f&4 != 0 {
			ADDQ(U8(64), x)
			ADDQ(U8(64), dx)
		}
		ADDQ(U8(64), dy)
		DECQ(n)
		JNZ(LabelRef(fmt.Sprintf("loop%d", f)))
		ADDQ(U8(32), coef)
		DECQ(rows)
		JNZ(LabelRef(fmt.Sprintf("row%d", f)))
		JMP(LabelRef("done"))
	}
	Label("done")
	VZEROUPPER()
	RET()
}
