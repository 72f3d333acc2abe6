package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The batch-norm kernels: a training step's batch norms stream every
// activation two or three times, and scalar Go (float64 sums, a branch
// for the ReLU mask) ran them at tens of cycles a value. Each kernel
// takes rows rows of n values each, one after the other in memory (the
// channels of one image), n a multiple of 16 (nn handles the rest in
// Go), with a row's own shift, mean or coefficients and sums: one call a
// row took a fifth to a third of a batch norm's time at ResNet-20's 8x8
// maps. Sums are kept
// in float64 lanes, as nn's scalar code keeps them, and carried across
// calls in acc, so that a channel's rows accumulate without a horizontal
// sum per row.

// lanes16 converts the 16 floats at m to float64 in lo and hi.
func lanes16(m Mem, lo, hi VecVirtual) {
	VCVTPS2PD(m, lo)
	VCVTPS2PD(m.Offset(32), hi)
}

// laneAcc is the pair of float64 sums a kernel carries in acc: each as two
// ZMM halves, so that consecutive adds do not wait on one another.
type laneAcc struct{ s0, s1, q0, q1 VecVirtual }

// loadLanes starts the sums from acc[0:8] and acc[8:16].
func loadLanes(acc Register) laneAcc {
	l := laneAcc{ZMM(), ZMM(), ZMM(), ZMM()}
	VMOVUPD(Mem{Base: acc}, l.s0)
	VMOVUPD(Mem{Base: acc, Disp: 64}, l.q0)
	VXORPD(l.s1, l.s1, l.s1)
	VXORPD(l.q1, l.q1, l.q1)
	return l
}

// storeLanes folds the halves and writes the sums back to acc.
func storeLanes(l laneAcc, acc Register) {
	VADDPD(l.s1, l.s0, l.s0)
	VADDPD(l.q1, l.q0, l.q0)
	VMOVUPD(l.s0, Mem{Base: acc})
	VMOVUPD(l.q0, Mem{Base: acc, Disp: 64})
}

// bnSum emits bnSumAVX512.
func bnSum() {
	TEXT("bnSumAVX512", NOSPLIT, "func(rows, n int, x *float32, shift *float64, acc *[16]float64)")
	Pragma("noescape")
	Doc("bnSumAVX512 adds, lane by lane, x[i]-shift[r] to acc[r][0:8] and",
		"(x[i]-shift[r])^2 to acc[r][8:16] over row r, x[r*n:(r+1)*n], for each of",
		"rows rows (acc and shift arrays of rows), in float64; n is a multiple",
		"of 16 and rows at least 1.")
	rows := Load(Param("rows"), GP64())
	x := Load(Param("x"), GP64())
	shift := Load(Param("shift"), GP64())
	acc := Load(Param("acc"), GP64())
	chunks := Load(Param("n"), GP64())
	SHRQ(U8(4), chunks)
	n := GP64()
	sh := ZMM()
	lo, hi := ZMM(), ZMM()
	Label("row")
	VBROADCASTSD(Mem{Base: shift}, sh)
	l := loadLanes(acc)
	MOVQ(chunks, n)
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("loop")
	lanes16(Mem{Base: x}, lo, hi)
	VSUBPD(sh, lo, lo)
	VSUBPD(sh, hi, hi)
	VADDPD(lo, l.s0, l.s0)
	VADDPD(hi, l.s1, l.s1)
	VFMADD231PD(lo, lo, l.q0)
	VFMADD231PD(hi, hi, l.q1)
	ADDQ(U8(64), x)
	DECQ(n)
	JNZ(LabelRef("loop"))
	Label("done")
	storeLanes(l, acc)
	ADDQ(U8(8), shift)
	ADDQ(U32(128), acc)
	DECQ(rows)
	JNZ(LabelRef("row"))
	VZEROUPPER()
	RET()
}

// bnGradSum emits bnGradSumAVX512.
func bnGradSum() {
	TEXT("bnGradSumAVX512", NOSPLIT, "func(rows, n int, dy, x *float32, mask *uint16, mean *float64, relu int, acc *[16]float64)")
	Pragma("noescape")
	Doc("bnGradSumAVX512 adds, lane by lane, g to acc[r][0:8] and",
		"g*(x[i]-mean[r]) to acc[r][8:16] over row r, [r*n:(r+1)*n], for each of",
		"rows rows (acc and mean arrays of rows), in float64, where g is dy[i],",
		"or 0 where relu is not 0 and bit i%16 of mask[i/16] is 0; n is a",
		"multiple of 16 and rows at least 1.")
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
	mean := ZMM()
	g, glo, ghi, xlo, xhi := ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
	gh := YMM()
	k := K()
	Label("row")
	VBROADCASTSD(Mem{Base: means}, mean)
	l := loadLanes(acc)
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
		if masked {
			// The ReLU's dead positions read as 0.
			KMOVW(Mem{Base: y}, k)
			VMOVUPS_Z(Mem{Base: dy}, k, g)
		} else {
			VMOVUPS(Mem{Base: dy}, g)
		}
		VCVTPS2PD(g.AsY(), glo)
		VEXTRACTF32X8(U8(1), g, gh)
		VCVTPS2PD(gh, ghi)
		lanes16(Mem{Base: x}, xlo, xhi)
		VSUBPD(mean, xlo, xlo)
		VSUBPD(mean, xhi, xhi)
		VADDPD(glo, l.s0, l.s0)
		VADDPD(ghi, l.s1, l.s1)
		VFMADD231PD(glo, xlo, l.q0)
		VFMADD231PD(ghi, xhi, l.q1)
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
	storeLanes(l, acc)
	ADDQ(U8(8), means)
	ADDQ(U32(128), acc)
	DECQ(rows)
	JNZ(LabelRef("row"))
	VZEROUPPER()
	RET()
}

// bnApply emits bnApplyAVX512, one loop per combination of its flags.
func bnApply() {
	TEXT("bnApplyAVX512", NOSPLIT, "func(rows, n int, x, y, res *float32, mask *uint16, coef *[4]float32, flags int)")
	Pragma("noescape")
	Doc("bnApplyAVX512 writes y[i] = (x[i]-coef[r][0])*coef[r][1] + coef[r][2] over",
		"row r, [r*n:(r+1)*n], for each of rows rows (coef an array of rows),",
		"then, with flag 1, adds res[i] and, with flag 2, takes max(., 0) and",
		"sets bit i%16 of mask[i/16] where y[i] is not <= 0 (a NaN's too);",
		"n is a multiple of 16 and rows at least 1.")
	rows := Load(Param("rows"), GP64())
	chunks := Load(Param("n"), GP64())
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	res := Load(Param("res"), GP64())
	mask := Load(Param("mask"), GP64())
	coef := Load(Param("coef"), GP64())
	flags := Load(Param("flags"), GP64())
	n := GP64()
	m, scale, b, v, zero := ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
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
		VMOVUPS(Mem{Base: x}, v)
		VSUBPS(m, v, v)
		VFMADD213PS(b, scale, v)
		if f&1 != 0 {
			VADDPS(Mem{Base: res}, v, v)
			ADDQ(U8(64), res)
		}
		if f&2 != 0 {
			VMAXPS(v, zero, v) // v is the source a NaN comes from: it passes, as through Go's max
			// The backward pass's mask: not 0 >= y. (Go operand order:
			// src2, src1.)
			k := K()
			VCMPPS(U8(0x19), v, zero, k)
			KMOVW(k, Mem{Base: mask})
			ADDQ(U8(2), mask)
		}
		VMOVUPS(v, Mem{Base: y})
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

// bnGradApply emits bnGradApplyAVX512, one loop per combination of its flags.
func bnGradApply() {
	TEXT("bnGradApplyAVX512", NOSPLIT, "func(rows, n int, dy, x *float32, mask *uint16, dx, dres *float32, coef *[8]float32, flags int)")
	Pragma("noescape")
	Doc("bnGradApplyAVX512 takes g = dy[i] (0 where flag 1, the ReLU, is set and",
		"bit i%16 of mask[i/16] is 0) over row r, [r*n:(r+1)*n], for each of rows",
		"rows (coef an array of rows); with flag 2 it adds g to dres[i], and with",
		"flag 4 it adds coef[r][2]*(g - coef[r][3] - (x[i]-coef[r][0])*coef[r][1]*coef[r][4])",
		"to dx[i]: coef[r] holds the mean, 1/std, gamma/std, and the means of g",
		"and of g times x-hat. Flag 8 (with 2) stores into dres instead of",
		"adding, flag 16 (with 4) into dx. n is a multiple of 16 and rows at",
		"least 1.")
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
	mean, invStd, kk, meanG, meanGX := ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
	g, t, xh := ZMM(), ZMM(), ZMM()
	k := K()
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
		if f&1 != 0 {
			KMOVW(Mem{Base: y}, k)
			VMOVUPS_Z(Mem{Base: dy}, k, g)
			ADDQ(U8(2), y)
		} else {
			VMOVUPS(Mem{Base: dy}, g)
		}
		if f&8 != 0 {
			VMOVUPS(g, Mem{Base: dres})
			ADDQ(U8(64), dres)
		} else if f&2 != 0 {
			VADDPS(Mem{Base: dres}, g, t)
			VMOVUPS(t, Mem{Base: dres})
			ADDQ(U8(64), dres)
		}
		if f&4 != 0 {
			VMOVUPS(Mem{Base: x}, xh)
			VSUBPS(mean, xh, xh)
			VMULPS(invStd, xh, xh)
			VSUBPS(meanG, g, t)
			VFNMADD231PS(xh, meanGX, t)
			if f&16 != 0 {
				VMULPS(t, kk, xh)
			} else {
				VMOVUPS(Mem{Base: dx}, xh)
				VFMADD231PS(t, kk, xh)
			}
			VMOVUPS(xh, Mem{Base: dx})
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

// The im2col and col2im kernels: a kernel tap (c, kh, kw) turns input
// rows into column rows shifted by kw - pad (and, for a stride above 1,
// read every stride-th value), with zeros where the window hangs over the
// edge. Go's copy and clear per row of 32 values cost more in calls than
// in copying; these move whole tap planes with masked loads and stores,
// 16 values at a time, or with gathers (and, for col2im, scatters) over an
// index vector of lane*stride when strided.
//
// All walk rows of n values (n <= 256, so 16 chunks at most); masks[c]
// holds, for chunk c, the lanes inside [lo, hi) in its low 16 bits and
// the lanes inside the row in its high 16 bits.

// rowKernel emits one of them: scatter for col2im (adding into the
// shifted side) rather than im2col, strided for strides above 1. The
// contiguous im2col kernel also lays rows side by side in groups, as
// packed panels want them.
func rowKernel(name string, scatter, strided bool) {
	grouped := !scatter && !strided
	sig := "func(dst, src *float32, rows, chunks, dstStride, srcStride, off int, masks *[16]uint32"
	switch {
	case strided:
		sig += ", idx *[16]int32, step int"
	case grouped:
		sig += ", group, r0, jump int"
	}
	TEXT(name, NOSPLIT, sig+")")
	Pragma("noescape")
	at := "j+off"
	if strided {
		at = "j*stride+off"
	}
	var doc []string
	if scatter {
		doc = []string{fmt.Sprintf("%s adds src[r][j] to dst[r][%s] for j in [lo, hi) of each of", name, at),
			"rows rows (rows dstStride and srcStride floats apart); masks give lo and hi."}
	} else {
		doc = []string{fmt.Sprintf("%s writes dst[r][j] = src[r][%s] for j in [lo, hi) and 0 for", name, at),
			"the rest of each of rows rows of chunks x 16 values at most (rows",
			"dstStride and srcStride floats apart); masks give lo, hi and the row's",
			"length."}
	}
	if strided {
		doc = append(doc, "idx holds lane*stride; the shifted side moves on by step = 64*stride",
			"bytes a chunk.")
	}
	if grouped {
		doc = append(doc, "Rows come in groups of group (the first holding group-r0): after the",
			"last row of a group, dst moves on by jump floats more, which lays the",
			"rows of a group side by side in one packed panel.")
	}
	Doc(doc...)
	ra := loadRowArgs(scatter)
	var idx VecVirtual
	var step Register
	if strided {
		idxp := Load(Param("idx"), GP64())
		step = Load(Param("step"), GP64())
		idx = ZMM()
		VMOVDQU32(Mem{Base: idxp}, idx)
	}
	var r Register
	if grouped {
		r = Load(Param("r0"), GP64())
	}
	w := GP32()
	kin, kout := K(), K()
	var kg Register
	if strided {
		kg = K()
	}
	v, u := ZMM(), ZMM()
	var endRow func(d Register)
	if grouped {
		endRow = func(d Register) {
			// The group's end: on to the next panel. d is free again here.
			INCQ(r)
			Load(Param("group"), d)
			CMPQ(r, d)
			JNE(LabelRef("same"))
			XORQ(r, r)
			Load(Param("jump"), d)
			SHLQ(U8(2), d)
			ADDQ(d, ra.dst)
			Label("same")
		}
	}
	ra.loop(func(d, s, m Register) {
		MOVL(Mem{Base: m}, w)
		KMOVW(w, kin)
		if strided {
			KMOVW(w, kg) // the gather clears its mask
		}
		SHRL(U8(16), w)
		KMOVW(w, kout)
		switch {
		case scatter && strided:
			VMOVUPS_Z(Mem{Base: s}, kin, v)
			VXORPS(u, u, u)
			VGATHERDPS(Mem{Base: d, Index: idx, Scale: 4}, kg, u)
			VADDPS(v, u, u)
			VSCATTERDPS(u, kin, Mem{Base: d, Index: idx, Scale: 4})
			ADDQ(step, d)
			ADDQ(U8(64), s)
		case strided:
			VXORPS(v, v, v)
			VGATHERDPS(Mem{Base: s, Index: idx, Scale: 4}, kg, v)
			VMOVUPS(v, kout, Mem{Base: d})
			ADDQ(U8(64), d)
			ADDQ(step, s)
		case scatter:
			VMOVUPS_Z(Mem{Base: s}, kin, v)
			VMOVUPS_Z(Mem{Base: d}, kin, u)
			VADDPS(v, u, u)
			VMOVUPS(u, kin, Mem{Base: d})
			ADDQ(U8(64), d)
			ADDQ(U8(64), s)
		default:
			VMOVUPS_Z(Mem{Base: s}, kin, v)
			VMOVUPS(v, kout, Mem{Base: d})
			ADDQ(U8(64), d)
			ADDQ(U8(64), s)
		}
	}, endRow)
}

// rowArgs are the operands every row kernel takes, scaled to bytes.
type rowArgs struct{ dst, src, rows, chunks, dstStride, srcStride, masks Register }

// loadRowArgs loads them and moves the shifted side's pointer by off
// (src for im2col, dst for col2im), and returns from the kernel when there
// are no rows or no chunks.
func loadRowArgs(scatter bool) rowArgs {
	a := rowArgs{
		dst: Load(Param("dst"), GP64()), src: Load(Param("src"), GP64()),
		rows: Load(Param("rows"), GP64()), chunks: Load(Param("chunks"), GP64()),
		dstStride: Load(Param("dstStride"), GP64()), srcStride: Load(Param("srcStride"), GP64()),
	}
	off := Load(Param("off"), GP64())
	a.masks = Load(Param("masks"), GP64())
	SHLQ(U8(2), a.dstStride)
	SHLQ(U8(2), a.srcStride)
	SHLQ(U8(2), off)
	if scatter {
		ADDQ(off, a.dst)
	} else {
		ADDQ(off, a.src)
	}
	TESTQ(a.rows, a.rows)
	JZ(LabelRef("done"))
	TESTQ(a.chunks, a.chunks)
	JZ(LabelRef("done"))
	return a
}

// loop emits the rows and, in each, the chunks: chunk gets the chunk's dst
// and src pointers and its masks' address (it moves the pointers on
// itself); endRow, if not nil, runs after the row's pointers moved on,
// with a register it may use. Then the kernel returns.
func (a rowArgs) loop(chunk func(d, s, m Register), endRow func(d Register)) {
	d, s, i, m := GP64(), GP64(), GP64(), GP64()
	Label("row")
	MOVQ(a.dst, d)
	MOVQ(a.src, s)
	MOVQ(a.masks, m)
	MOVQ(a.chunks, i)
	Label("chunk")
	chunk(d, s, m)
	ADDQ(U8(4), m)
	DECQ(i)
	JNZ(LabelRef("chunk"))
	ADDQ(a.dstStride, a.dst)
	ADDQ(a.srcStride, a.src)
	if endRow != nil {
		endRow(d)
	}
	DECQ(a.rows)
	JNZ(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// halfRowKernel emits the stride-2 im2col (or, with scatter, col2im)
// row kernel: the strided kernels' work without their gathers and
// scatters, which are slow on Zen 4. A chunk's 16 column values are the
// even positions of a 32-value window of the input row: two masked loads
// and a permute (idx[0:16]) take them apart, and col2im spreads them back
// with two permutes (idx[0:16] and idx[16:32]) and adds them under masks of
// the even positions alone. The masks are the strided kernels' ones; a
// lane's bit becomes the bit of its even position by PDEP.
func halfRowKernel(name string, scatter bool) {
	TEXT(name, NOSPLIT, "func(dst, src *float32, rows, chunks, dstStride, srcStride, off int, masks *[16]uint32, idx *[32]int32)")
	Pragma("noescape")
	if scatter {
		Doc(name+" adds src[r][j] to dst[r][2j+off] for j in [lo, hi) of each of rows",
			"rows (rows dstStride and srcStride floats apart); masks give lo and hi.",
			"idx[0:16] and idx[16:32] spread lanes 0-7 and 8-15 to the even positions.")
	} else {
		Doc(name+" writes dst[r][j] = src[r][2j+off] for j in [lo, hi) and 0 for",
			"the rest of each of rows rows of chunks x 16 values at most (rows",
			"dstStride and srcStride floats apart); masks give lo, hi and the row's",
			"length. idx[0:16] takes a window's even positions.")
	}
	ra := loadRowArgs(scatter)
	idxp := Load(Param("idx"), GP64())
	lo, hi := loadPermutes(idxp)
	w, t, evens := GP32(), GP32(), GP32()
	MOVL(U32(0x5555), evens)
	kin, kout, k0, k1 := K(), K(), K(), K()
	v, a, b := ZMM(), ZMM(), ZMM()
	ra.loop(func(d, s, m Register) {
		MOVL(Mem{Base: m}, w)
		KMOVW(w, kin)
		MOVL(w, t)
		ANDL(U32(0xff), t)
		PDEPL(evens, t, t)
		KMOVW(t, k0)
		MOVL(w, t)
		SHRL(U8(8), t)
		ANDL(U32(0xff), t)
		PDEPL(evens, t, t)
		KMOVW(t, k1)
		if scatter {
			// The doubled side is the plane, d.
			VMOVUPS_Z(Mem{Base: s}, kin, v)
			for h, k := range []Register{k0, k1} {
				sp := lo
				if h == 1 {
					sp = hi
				}
				VPERMPS(v, sp, a)
				VMOVUPS_Z(Mem{Base: d, Disp: 64 * h}, k, b)
				VADDPS(a, b, b)
				VMOVUPS(b, k, Mem{Base: d, Disp: 64 * h})
			}
			ADDQ(U8(128), d)
			ADDQ(U8(64), s)
			return
		}
		// The doubled side is the input row, s.
		SHRL(U8(16), w)
		KMOVW(w, kout)
		VMOVUPS_Z(Mem{Base: s}, k0, a)
		VMOVUPS_Z(Mem{Base: s, Disp: 64}, k1, b)
		VPERMT2PS(b, lo, a)
		VMOVUPS(a, kout, Mem{Base: d})
		ADDQ(U8(64), d)
		ADDQ(U8(128), s)
	}, nil)
}

// transposePack emits packB's transposed case (rows 32, the weight
// gradient's im2col matrix as B; rows 16 for the first half of an edge
// panel) and packA's plain one (rows 12, a row-major A whose rows become
// the panel's columns), each into panels width floats wide: rows of src become the packed
// panel's columns, by 16 x 16 register transposes instead of a scalar
// scatter.
func transposePack(name string, rows, width int) {
	TEXT(name, NOSPLIT, "func(dst, src *float32, ld, blocks int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s writes dst[p*%d+j] = src[j*ld+p] for j < %d and", name, width, rows),
		fmt.Sprintf("p < 16*blocks: %d rows of src, ld floats apart, into a packed %d-column", rows, width),
		"panel, 16 values of p at a time.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	ld := Load(Param("ld"), GP64())
	blocks := Load(Param("blocks"), GP64())
	SHLQ(U8(2), ld)
	TESTQ(blocks, blocks)
	JZ(LabelRef("done"))
	row, half := GP64(), GP64()
	var keep Op
	if rows%16 != 0 {
		k, m := K(), GP32()
		MOVL(U32(1<<(rows%16)-1), m)
		KMOVW(m, k)
		keep = k
	}
	Label("block")
	for h := 0; h < (rows+15)/16; h++ {
		// Rows 16h .. 16h+15 of src become columns 16h .. 16h+15.
		n := min(16, rows-16*h)
		MOVQ(src, row)
		if h == 1 {
			MOVQ(ld, half)
			SHLQ(U8(4), half)
			ADDQ(half, row)
		}
		r := make([]VecVirtual, 16)
		for i := range r {
			r[i] = ZMM()
			if i < n {
				VMOVUPS(Mem{Base: row}, r[i])
				ADDQ(ld, row)
			} else {
				VXORPS(r[i], r[i], r[i])
			}
		}
		t := make([]VecVirtual, 16)
		for i := 0; i < 8; i++ {
			t[2*i], t[2*i+1] = ZMM(), ZMM()
			VUNPCKLPS(r[2*i+1], r[2*i], t[2*i])
			VUNPCKHPS(r[2*i+1], r[2*i], t[2*i+1])
		}
		u := make([]VecVirtual, 16)
		for i := 0; i < 4; i++ {
			for j := 0; j < 4; j++ {
				u[4*i+j] = ZMM()
			}
			VUNPCKLPD(t[4*i+2], t[4*i], u[4*i])
			VUNPCKHPD(t[4*i+2], t[4*i], u[4*i+1])
			VUNPCKLPD(t[4*i+3], t[4*i+1], u[4*i+2])
			VUNPCKHPD(t[4*i+3], t[4*i+1], u[4*i+3])
		}
		v := make([]VecVirtual, 16)
		for i := 0; i < 2; i++ {
			for j := 0; j < 4; j++ {
				v[8*i+j], v[8*i+j+4] = ZMM(), ZMM()
				VSHUFF32X4(U8(0x88), u[8*i+j+4], u[8*i+j], v[8*i+j])
				VSHUFF32X4(U8(0xdd), u[8*i+j+4], u[8*i+j], v[8*i+j+4])
			}
		}
		store := func(w VecVirtual, p int) {
			m := Mem{Base: dst, Disp: 4*width*p + 64*h}
			if n < 16 {
				VMOVUPS(w, keep, m)
			} else {
				VMOVUPS(w, m)
			}
		}
		for j := 0; j < 8; j++ {
			w0, w1 := ZMM(), ZMM()
			VSHUFF32X4(U8(0x88), v[j+8], v[j], w0)
			VSHUFF32X4(U8(0xdd), v[j+8], v[j], w1)
			store(w0, j)
			store(w1, j+8)
		}
	}
	ADDQ(U32(16*4*width), dst)
	ADDQ(U8(64), src)
	DECQ(blocks)
	JNZ(LabelRef("block"))
	Label("done")
	VZEROUPPER()
	RET()
}

// packRows emits packRowsAVX512: packB's plain case, kc rows of 32
// floats copied into the panel, two loads and stores a row, where Go's
// copy paid a call per row.
func packRows() {
	TEXT("packRowsAVX512", NOSPLIT, "func(dst, src *float32, ld, kc int, mask uint32)")
	Pragma("noescape")
	Doc("packRowsAVX512 writes dst[p*32+j] = src[p*ld+j] for p < kc and the bits j",
		"of mask, 0 for the others (32 floats a row either way); an edge panel's",
		"columns past the matrix are neither read nor left as they were.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	ld := Load(Param("ld"), GP64())
	kc := Load(Param("kc"), GP64())
	m := GP32()
	Load(Param("mask"), m)
	lo, hi := K(), K()
	KMOVW(m, lo)
	SHRL(U8(16), m)
	KMOVW(m, hi)
	SHLQ(U8(2), ld)
	TESTQ(kc, kc)
	JZ(LabelRef("done"))
	a, b := ZMM(), ZMM()
	Label("row")
	VMOVUPS_Z(Mem{Base: src}, lo, a)
	VMOVUPS_Z(Mem{Base: src, Disp: 64}, hi, b)
	VMOVUPS(a, Mem{Base: dst})
	VMOVUPS(b, Mem{Base: dst, Disp: 64})
	ADDQ(ld, src)
	ADDQ(U8(128), dst)
	DECQ(kc)
	JNZ(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}
