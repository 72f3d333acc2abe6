package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The Winograd F(2x2, 3x3) transforms, 16 tiles of a tile row at a time,
// one tile a lane: the scalar Go transforms cost several times the GEMMs
// they feed. Tile t of a chunk reads input columns 2t-pad .. 2t-pad+3,
// so a row's four tile columns are the even and odd lanes of two 32-float
// windows, at the chunk's start and two floats on; a permute over two
// registers deinterleaves each. The output goes the other way: a tile
// row's two output columns are interleaved back into 32 floats.

// loadMasks loads n 16-bit lane masks from the array at masks into K
// registers.
func loadMasks(masks Register, n int) []Register {
	km := make([]Register, n)
	t := GP32()
	for i := range km {
		km[i] = K()
		MOVWLZX(Mem{Base: masks, Disp: 2 * i}, t)
		KMOVW(t, km[i])
	}
	return km
}

// loadPermutes loads the two permutes in the 32 lane numbers at idx: the
// first 16 and the last 16.
func loadPermutes(idx Register) (first, second VecVirtual) {
	first, second = ZMM(), ZMM()
	VMOVDQU32(Mem{Base: idx}, first)
	VMOVDQU32(Mem{Base: idx, Disp: 64}, second)
	return first, second
}

// winoInput emits winoInputAVX512.
func winoInput() {
	TEXT("winoInputAVX512", NOSPLIT, "func(v, x *float32, chans, off, xStride, vStride, plane, w, rows int, masks *[6]uint16, idx *[32]int32, hiOff, splitOff int)")
	Pragma("noescape")
	Doc("winoInputAVX512 writes V = B^T d B for 16 tiles of chans channels. The",
		"tiles' input rows start at x[off] (off may be negative, as may the rows",
		"and columns masked off), rows w floats apart, channels xStride floats",
		"apart. The second half of each 32-float window is read hiOff bytes",
		"after the first: 64 for 16 tiles of one tile row, or two input rows",
		"down for two tile rows of a narrow image, half a register each. Bit r",
		"(r+4) of rows says input row r of the first (second) half is inside",
		"the image. masks[0:4] give the lanes inside the row of the 16-float",
		"loads at the window's start, its second half, and the two two floats",
		"on; masks[4] the tiles to store. Element e of a channel's tiles goes",
		"to v[e*plane + c*vStride:], 16 floats, except that the tiles of",
		"masks[5] go splitOff bytes further on: V laid out in the GEMM's packed",
		"panels, where a call's tiles may run over into the next panel. idx",
		"holds the permutes that take a window's even positions, then its odd",
		"ones.")
	v := Load(Param("v"), GP64())
	x := Load(Param("x"), GP64())
	chans := Load(Param("chans"), GP64())
	off := Load(Param("off"), GP64())
	xStride := Load(Param("xStride"), GP64())
	vStride := Load(Param("vStride"), GP64())
	plane := Load(Param("plane"), GP64())
	w := Load(Param("w"), GP64())
	rows := Load(Param("rows"), GP64())
	masks := Load(Param("masks"), GP64())
	idx := Load(Param("idx"), GP64())
	xh := Load(Param("hiOff"), GP64())
	split := Load(Param("splitOff"), GP64())
	for _, r := range []Register{off, xStride, vStride, plane, w} {
		SHLQ(U8(2), r)
	}
	ADDQ(off, x) // x: the first row's first float, in bytes
	ADDQ(x, xh)  // xh: the same for the windows' second halves
	w3 := GP64()
	LEAQ(Mem{Base: w, Index: w, Scale: 2}, w3)
	km := loadMasks(masks, 6)
	even, odd := loadPermutes(idx)
	splitLoops(chans, km[5], func(name string, withSplit bool) {
		winoInputLoop(name, x, xh, v, w, w3, rows, plane, xStride, vStride, chans, split, km, even, odd, withSplit)
	})
}

// splitLoops emits a transform's loop over chans channels (none if 0) and
// the function's return: two copies of the loop, at labels chan and
// chan_split, the second taken where the stores' mask split (tiles that
// run over into the next packed panel) is not empty, so that a call whose
// tiles stay in one panel tests for the split nowhere inside it.
func splitLoops(chans, split Register, loop func(name string, withSplit bool)) {
	TESTQ(chans, chans)
	JZ(LabelRef("done"))
	KORTESTW(split, split)
	JNZ(LabelRef("chan_split"))
	loop("chan", false)
	JMP(LabelRef("done"))
	loop("chan_split", true)
	Label("done")
	VZEROUPPER()
	RET()
}

// winoInputLoop emits winoInputAVX512's loop over the channels, at label
// name; with split, each store is two, the tiles of km[4] and those of
// km[5] split bytes further on.
func winoInputLoop(name string, x, xh, v, w, w3, rows, plane, xStride, vStride, chans, split Register, km []Register, even, odd VecVirtual, withSplit bool) {
	Label(name)
	// d[r][j]: input row r, tile column j, one tile a lane.
	var d [4][4]VecVirtual
	for r := range 4 {
		row := func(base Register, disp int) Mem { return rowAt(base, w, w3, r, disp) }
		// The windows at the tiles' first column and two floats on, each
		// as a first half (lo) and a second (hi); rows outside the image
		// read as 0.
		var lo, hi [2]VecVirtual
		for h := range 2 {
			lo[h], hi[h] = ZMM(), ZMM()
			VXORPS(lo[h], lo[h], lo[h])
			VXORPS(hi[h], hi[h], hi[h])
		}
		skip := fmt.Sprintf("%s_lo%d", name, r)
		BTQ(U8(r), rows)
		JCC(LabelRef(skip))
		VMOVUPS_Z(row(x, 0), km[0], lo[0])
		VMOVUPS_Z(row(x, 8), km[2], lo[1])
		Label(skip)
		skip = fmt.Sprintf("%s_hi%d", name, r)
		BTQ(U8(r+4), rows)
		JCC(LabelRef(skip))
		VMOVUPS_Z(row(xh, 0), km[1], hi[0])
		VMOVUPS_Z(row(xh, 8), km[3], hi[1])
		Label(skip)
		for h := range 2 {
			d[r][2*h], d[r][2*h+1] = ZMM(), ZMM()
			VMOVAPS(lo[h], d[r][2*h])
			VPERMT2PS(hi[h], even, d[r][2*h])
			VMOVAPS(lo[h], d[r][2*h+1])
			VPERMT2PS(hi[h], odd, d[r][2*h+1])
		}
	}
	// B^T d down the columns, then along the rows: 0-2, 1+2, 2-1, 1-3.
	bt := func(a [4]VecVirtual) [4]VecVirtual {
		var o [4]VecVirtual
		for i := range o {
			o[i] = ZMM()
		}
		VSUBPS(a[2], a[0], o[0])
		VADDPS(a[2], a[1], o[1])
		VSUBPS(a[1], a[2], o[2])
		VSUBPS(a[3], a[1], o[3])
		return o
	}
	var c [4][4]VecVirtual
	for j := range 4 {
		o := bt([4]VecVirtual{d[0][j], d[1][j], d[2][j], d[3][j]})
		for i := range 4 {
			c[i][j] = o[i]
		}
	}
	q := GP64()
	MOVQ(v, q)
	for i := range 4 {
		o := bt(c[i])
		for j := range 4 {
			VMOVUPS(o[j], km[4], Mem{Base: q})
			if withSplit {
				VMOVUPS(o[j], km[5], Mem{Base: q, Index: split, Scale: 1})
			}
			ADDQ(plane, q)
		}
	}
	ADDQ(xStride, x)
	ADDQ(xStride, xh)
	ADDQ(vStride, v)
	DECQ(chans)
	JNZ(LabelRef(name))
}

// winoOutput emits winoOutputAVX512, F(2x2, 3x3)'s output transform.
func winoOutput() {
	// A^T's rows: 0+1+2 and 1-2-3.
	winoOutputKernel("winoOutputAVX512", 4, func(a []VecVirtual, o [2]VecVirtual) {
		VADDPS(a[1], a[0], o[0])
		VADDPS(a[2], o[0], o[0])
		VSUBPS(a[2], a[1], o[1])
		VSUBPS(a[3], o[1], o[1])
	})
}

// winoOutputKernel emits an output transform of 2x2 tiles from n x n
// elements (n at most 5), at applying A^T to n values, into o.
func winoOutputKernel(name string, n int, at func(a []VecVirtual, o [2]VecVirtual)) {
	TEXT(name, NOSPLIT, "func(y, m, res, bias *float32, chans, off, yStride, mStride, plane, ow, flags int, masks *[5]uint16, idx *[32]int32, hiOff int)")
	Pragma("noescape")
	Doc(name+" writes the output tiles A^T M A of 16 tiles of chans",
		"channels: element e (of "+fmt.Sprint(n*n)+") of channel k's tiles is at m[e*plane + k*mStride:];",
		"the tiles' outputs start at y[off] and res[off], rows ow floats apart,",
		"channels yStride floats apart. The tiles' two columns are interleaved",
		"back into two halves of 16 floats, the second written hiOff bytes after",
		"the first (64, or two output rows down for two tile rows of a narrow",
		"image). Each value gets bias[k] if flags&8, then the residual if",
		"flags&2, then the ReLU if flags&1. masks[0] and masks[1] give the",
		"outputs to write of the halves of the tiles' first output row, masks[3]",
		"and masks[4] of their second, masks[2] the tiles to load. idx holds",
		"the permutes that interleave the first half, then the second.")
	y := Load(Param("y"), GP64())
	m := Load(Param("m"), GP64())
	res := Load(Param("res"), GP64())
	bias := Load(Param("bias"), GP64())
	chans := Load(Param("chans"), GP64())
	off := Load(Param("off"), GP64())
	yStride := Load(Param("yStride"), GP64())
	mStride := Load(Param("mStride"), GP64())
	plane := Load(Param("plane"), GP64())
	ow := Load(Param("ow"), GP64())
	// The flags stay in memory: the registers are all taken.
	flags, err := Param("flags").Resolve()
	if err != nil {
		panic(err)
	}
	masks := Load(Param("masks"), GP64())
	idx := Load(Param("idx"), GP64())
	for _, r := range []Register{off, yStride, mStride, plane, ow} {
		SHLQ(U8(2), r)
	}
	ADDQ(off, y)
	ADDQ(off, res)
	yh := Load(Param("hiOff"), GP64())
	rh := GP64()
	MOVQ(yh, rh)
	ADDQ(y, yh)
	ADDQ(res, rh)
	km := loadMasks(masks, 5)
	lo, hi := loadPermutes(idx)
	// rowN: the bytes from an element to the one a row of n below, and
	// three times that.
	rowN, rowN3 := GP64(), GP64()
	IMUL3Q(Imm(uint64(n)), plane, rowN)
	LEAQ(Mem{Base: rowN, Index: rowN, Scale: 2}, rowN3)
	zero := ZMM()
	VXORPS(zero, zero, zero)
	TESTQ(chans, chans)
	JZ(LabelRef("done"))
	Label("chan")
	// A^T M down each column as it loads, then along the rows; m walks
	// the columns and comes back by rowN.
	var a [2][]VecVirtual
	for range n {
		e := make([]VecVirtual, n)
		for i := range n {
			e[i] = ZMM()
			VMOVUPS_Z(rowAt5(m, rowN, rowN3, i, 0), km[2], e[i])
		}
		ADDQ(plane, m)
		o := [2]VecVirtual{ZMM(), ZMM()}
		at(e, o)
		a[0], a[1] = append(a[0], o[0]), append(a[1], o[1])
	}
	SUBQ(rowN, m)
	for i := range 2 {
		o := [2]VecVirtual{ZMM(), ZMM()}
		at(a[i], o)
		BTQ(U8(3), flags.Addr)
		JCC(LabelRef(fmt.Sprintf("nobias%d", i)))
		b := ZMM()
		VBROADCASTSS(Mem{Base: bias}, b)
		VADDPS(b, o[0], o[0])
		VADDPS(b, o[1], o[1])
		Label(fmt.Sprintf("nobias%d", i))
		// Interleave the tiles' two columns back into output order.
		out := [2]VecVirtual{ZMM(), ZMM()}
		VMOVAPS(o[0], out[0])
		VPERMT2PS(o[1], lo, out[0])
		VMOVAPS(o[0], out[1])
		VPERMT2PS(o[1], hi, out[1])
		for h := range 2 {
			base, rbase := y, res
			if h == 1 {
				base, rbase = yh, rh
			}
			row, rrow := Mem{Base: base}, Mem{Base: rbase}
			mask := km[h]
			if i == 1 {
				row.Index, row.Scale = ow, 1
				rrow.Index, rrow.Scale = ow, 1
				mask = km[3+h]
			}
			BTQ(U8(1), flags.Addr)
			JCC(LabelRef(fmt.Sprintf("nores%d%d", i, h)))
			r := ZMM()
			VMOVUPS_Z(rrow, mask, r)
			VADDPS(r, out[h], out[h])
			Label(fmt.Sprintf("nores%d%d", i, h))
			BTQ(U8(0), flags.Addr)
			JCC(LabelRef(fmt.Sprintf("norelu%d%d", i, h)))
			VMAXPS(out[h], zero, out[h]) // a NaN passes, as through Go's max
			Label(fmt.Sprintf("norelu%d%d", i, h))
			VMOVUPS(out[h], mask, row)
		}
	}
	for _, r := range []Register{y, yh, res, rh} {
		ADDQ(yStride, r)
	}
	ADDQ(mStride, m)
	ADDQ(U8(4), bias)
	DECQ(chans)
	JNZ(LabelRef("chan"))
	Label("done")
	VZEROUPPER()
	RET()
}

// winoDy emits winoDyAVX512, the weight gradient's transform of dy: its
// 2x2 tiles, at stride 2 like the input's, are a 32-float window's even
// and odd positions, so it takes them apart as winoInput does, from two
// rows instead of four and one window instead of two.
func winoDy() {
	TEXT("winoDyAVX512", NOSPLIT, "func(u, dy *float32, chans, off, dyStride, uStride, plane, w, rows int, masks *[3]uint16, idx *[32]int32, hiOff int)")
	Pragma("noescape")
	Doc("winoDyAVX512 writes U = G g G^T, the elements in row 3 or column 3 (not",
		"both) negated, for 16 2x2 tiles g of chans channels. The tiles' rows",
		"start at dy[off], rows w floats apart, channels dyStride floats apart.",
		"The second half of each 32-float window is read hiOff bytes after the",
		"first, as in winoInputAVX512; bit r (r+4) of rows says row r of the",
		"first (second) half is inside dy. masks[0:2] give the lanes inside the",
		"row of the halves' loads, masks[2] the tiles to store. Element e of a",
		"channel's tiles goes to u[e*plane + c*uStride:], 16 floats. idx holds",
		"the permutes that take a window's even positions, then its odd ones.")
	u := Load(Param("u"), GP64())
	dy := Load(Param("dy"), GP64())
	chans := Load(Param("chans"), GP64())
	off := Load(Param("off"), GP64())
	dyStride := Load(Param("dyStride"), GP64())
	uStride := Load(Param("uStride"), GP64())
	plane := Load(Param("plane"), GP64())
	w := Load(Param("w"), GP64())
	rows := Load(Param("rows"), GP64())
	masks := Load(Param("masks"), GP64())
	idx := Load(Param("idx"), GP64())
	dh := Load(Param("hiOff"), GP64())
	for _, r := range []Register{off, dyStride, uStride, plane, w} {
		SHLQ(U8(2), r)
	}
	ADDQ(off, dy)
	ADDQ(dy, dh)
	km := loadMasks(masks, 3)
	even, odd := loadPermutes(idx)
	half, sign := ZMM(), ZMM()
	t := GP32()
	MOVL(U32(0x3f000000), t) // 0.5
	VPBROADCASTD(t, half)
	MOVL(U32(0x80000000), t) // the sign bit: negation, as Go's unary minus
	VPBROADCASTD(t, sign)
	TESTQ(chans, chans)
	JZ(LabelRef("done"))
	Label("chan")
	// g[r][j]: row r, tile column j, one tile a lane.
	var g [2][2]VecVirtual
	for r := range 2 {
		row := func(base Register) Mem {
			m := Mem{Base: base}
			if r == 1 {
				m.Index, m.Scale = w, 1
			}
			return m
		}
		lo, hi := ZMM(), ZMM()
		VXORPS(lo, lo, lo)
		VXORPS(hi, hi, hi)
		skip := fmt.Sprintf("lo%d", r)
		BTQ(U8(r), rows)
		JCC(LabelRef(skip))
		VMOVUPS_Z(row(dy), km[0], lo)
		Label(skip)
		skip = fmt.Sprintf("hi%d", r)
		BTQ(U8(r+4), rows)
		JCC(LabelRef(skip))
		VMOVUPS_Z(row(dh), km[1], hi)
		Label(skip)
		g[r][0], g[r][1] = ZMM(), ZMM()
		VMOVAPS(lo, g[r][0])
		VPERMT2PS(hi, even, g[r][0])
		VMOVAPS(lo, g[r][1])
		VPERMT2PS(hi, odd, g[r][1])
	}
	// G g down the columns, then along the rows: a, (a+b)/2, (a-b)/2, -b.
	gt := func(a, b VecVirtual) [4]VecVirtual {
		o := [4]VecVirtual{a, ZMM(), ZMM(), ZMM()}
		VADDPS(b, a, o[1])
		VMULPS(half, o[1], o[1])
		VSUBPS(b, a, o[2])
		VMULPS(half, o[2], o[2])
		VXORPS(sign, b, o[3])
		return o
	}
	c0, c1 := gt(g[0][0], g[1][0]), gt(g[0][1], g[1][1])
	q := GP64()
	MOVQ(u, q)
	for i := range 4 {
		o := gt(c0[i], c1[i])
		for j := range 4 {
			VMOVUPS(o[j], km[2], Mem{Base: q})
			ADDQ(plane, q)
		}
	}
	ADDQ(dyStride, dy)
	ADDQ(dyStride, dh)
	ADDQ(uStride, u)
	DECQ(chans)
	JNZ(LabelRef("chan"))
	Label("done")
	VZEROUPPER()
	RET()
}
