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
	TEXT("winoInputAVX512", NOSPLIT, "func(v, x *float32, chans, off, xStride, vStride, plane, w, rows int, masks *[5]uint16, idx *[32]int32)")
	Pragma("noescape")
	Doc("winoInputAVX512 writes V = B^T d B for 16 tiles of one tile row of chans",
		"channels: the tiles' input rows start at x[off] (off may be negative, as",
		"may the rows and columns masked off), rows w floats apart, channels",
		"xStride floats apart; bit r of rows says input row r is inside the image.",
		"masks[0:4] give the lanes inside the row of the 16-float loads at the",
		"chunk's start, 16, 2 and 18 floats on; masks[4] the tiles to store.",
		"Element e of a channel's tiles goes to v[e*plane + c*vStride:], 16",
		"floats. idx holds the even lane numbers 0..30, then the odd ones.")
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
	for _, r := range []Register{off, xStride, vStride, plane, w} {
		SHLQ(U8(2), r)
	}
	ADDQ(off, x) // x: the first row's first float, in bytes
	w3 := GP64()
	LEAQ(Mem{Base: w, Index: w, Scale: 2}, w3)
	km := loadMasks(masks, 5)
	even, odd := loadPermutes(idx)
	TESTQ(chans, chans)
	JZ(LabelRef("done"))
	Label("chan")
	// d[r][j]: input row r, tile column j, one tile a lane.
	var d [4][4]VecVirtual
	for r := range 4 {
		row := Mem{Base: x}
		switch r {
		case 1:
			row = Mem{Base: x, Index: w, Scale: 1}
		case 2:
			row = Mem{Base: x, Index: w, Scale: 2}
		case 3:
			row = Mem{Base: x, Index: w3, Scale: 1}
		}
		for j := range 4 {
			d[r][j] = ZMM()
			VXORPS(d[r][j], d[r][j], d[r][j])
		}
		skip := fmt.Sprintf("row%d", r)
		BTQ(U8(r), rows)
		JCC(LabelRef(skip))
		for h := range 2 { // the windows at the chunk's start and 2 floats on
			lo, hi := ZMM(), ZMM()
			row.Disp = 8 * h
			VMOVUPS_Z(row, km[2*h], lo)
			row.Disp = 8*h + 64
			VMOVUPS_Z(row, km[2*h+1], hi)
			VMOVAPS(lo, d[r][2*h])
			VPERMT2PS(hi, even, d[r][2*h])
			VMOVAPS(lo, d[r][2*h+1])
			VPERMT2PS(hi, odd, d[r][2*h+1])
		}
		Label(skip)
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
			ADDQ(plane, q)
		}
	}
	ADDQ(xStride, x)
	ADDQ(vStride, v)
	DECQ(chans)
	JNZ(LabelRef("chan"))
	Label("done")
	VZEROUPPER()
	RET()
}

// winoOutput emits winoOutputAVX512.
func winoOutput() {
	TEXT("winoOutputAVX512", NOSPLIT, "func(y, m, res, bias *float32, chans, off, yStride, mStride, plane, ow, flags int, masks *[3]uint16, idx *[32]int32)")
	Pragma("noescape")
	Doc("winoOutputAVX512 writes the output tiles A^T M A of 16 tiles of one tile",
		"row of chans channels: element e of channel k's tiles is at",
		"m[e*plane + k*mStride:], the tile row's outputs start at y[off] and",
		"res[off], rows ow floats apart, channels yStride floats apart. Each",
		"value gets bias[k] if flags&8, then the residual if flags&2, then the",
		"ReLU if flags&1; the second output row is written if flags&4. masks[0]",
		"and masks[1] give the output columns inside the row of the two 16-float",
		"halves, masks[2] the tiles to load. idx holds the lanes that",
		"interleave two registers: 0, 16, 1, 17 ... 15, 31.")
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
	flags := Load(Param("flags"), GP64())
	masks := Load(Param("masks"), GP64())
	idx := Load(Param("idx"), GP64())
	for _, r := range []Register{off, yStride, mStride, plane, ow} {
		SHLQ(U8(2), r)
	}
	ADDQ(off, y)
	ADDQ(off, res)
	km := loadMasks(masks, 3)
	lo, hi := loadPermutes(idx)
	zero := ZMM()
	VXORPS(zero, zero, zero)
	TESTQ(chans, chans)
	JZ(LabelRef("done"))
	Label("chan")
	q := GP64()
	MOVQ(m, q)
	var e [4][4]VecVirtual
	for i := range 4 {
		for j := range 4 {
			e[i][j] = ZMM()
			VMOVUPS_Z(Mem{Base: q}, km[2], e[i][j])
			ADDQ(plane, q)
		}
	}
	// A^T M down the columns (0+1+2, 1-2-3), then along the rows.
	at := func(a [4]VecVirtual) [2]VecVirtual {
		o := [2]VecVirtual{ZMM(), ZMM()}
		VADDPS(a[1], a[0], o[0])
		VADDPS(a[2], o[0], o[0])
		VSUBPS(a[2], a[1], o[1])
		VSUBPS(a[3], o[1], o[1])
		return o
	}
	var a [2][4]VecVirtual
	for j := range 4 {
		o := at([4]VecVirtual{e[0][j], e[1][j], e[2][j], e[3][j]})
		a[0][j], a[1][j] = o[0], o[1]
	}
	for i := range 2 {
		o := at(a[i])
		BTQ(U8(3), flags)
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
		row := Mem{Base: y}
		rrow := Mem{Base: res}
		if i == 1 {
			row.Index, row.Scale = ow, 1
			rrow.Index, rrow.Scale = ow, 1
			BTQ(U8(2), flags)
			JCC(LabelRef("norow1"))
		}
		for h := range 2 {
			BTQ(U8(1), flags)
			JCC(LabelRef(fmt.Sprintf("nores%d%d", i, h)))
			r := ZMM()
			rrow.Disp = 64 * h
			VMOVUPS_Z(rrow, km[h], r)
			VADDPS(r, out[h], out[h])
			Label(fmt.Sprintf("nores%d%d", i, h))
			BTQ(U8(0), flags)
			JCC(LabelRef(fmt.Sprintf("norelu%d%d", i, h)))
			VMAXPS(out[h], zero, out[h]) // a NaN passes, as through Go's max
			Label(fmt.Sprintf("norelu%d%d", i, h))
			row.Disp = 64 * h
			VMOVUPS(out[h], km[h], row)
		}
	}
	Label("norow1")
	ADDQ(yStride, y)
	ADDQ(yStride, res)
	ADDQ(mStride, m)
	ADDQ(U8(4), bias)
	DECQ(chans)
	JNZ(LabelRef("chan"))
	Label("done")
	VZEROUPPER()
	RET()
}
