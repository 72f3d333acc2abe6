package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The stride-2 Winograd's transforms (nn/winograd_s2.go), 16 tiles of a
// tile row at a time, one tile a lane. Tile t reads input columns 4t-pad
// .. 4t-pad+4: the four first are positions 4t+j of 64 floats, which two
// permutes over two registers and a shuffle of their halves take apart;
// the fifth is the next tile's first.

// winoInputS2 emits winoInputS2AVX512.
func winoInputS2() {
	TEXT("winoInputS2AVX512", NOSPLIT, "func(v, x *float32, chans, off, xStride, vStride, plane, w, rows int, masks *[7]uint16, idx *[32]int32, splitOff int)")
	Pragma("noescape")
	Doc("winoInputS2AVX512 writes V = B^T d B of the stride-2 Winograd for 16",
		"tiles of one tile row, of chans channels. The tiles' five input rows",
		"start at x[off] (off may be negative, as may the rows and columns",
		"masked off), rows w floats apart, channels xStride floats apart; bit r",
		"of rows says input row r is inside the image. masks[0:5] give the",
		"lanes inside the row of the five 16-float loads from the rows' start",
		"(of the last, only the first float is used); masks[5] the tiles to",
		"store. Element e of a channel's tiles goes to v[e*plane + c*vStride:],",
		"16 floats, except that the tiles of masks[6] go splitOff bytes further",
		"on (V in the GEMM's packed panels). idx holds the permutes that take",
		"columns 0 and 1 of 8 tiles from 32 floats, then columns 2 and 3.")
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
	split := Load(Param("splitOff"), GP64())
	for _, r := range []Register{off, xStride, vStride, plane, w} {
		SHLQ(U8(2), r)
	}
	ADDQ(off, x)
	w3 := GP64()
	LEAQ(Mem{Base: w, Index: w, Scale: 2}, w3)
	row5 := GP64() // the bytes from V's element (a, j) to (a+1, j)
	IMUL3Q(Imm(5), plane, row5)
	km := loadMasks(masks, 7)
	first, second := loadPermutes(idx)
	splitLoops(chans, km[6], func(name string, withSplit bool) {
		winoInputS2Loop(name, v, x, chans, xStride, vStride, plane, w, w3, rows, split, row5, km, first, second, withSplit)
	})
}

// winoInputS2Loop emits winoInputS2AVX512's loop over the channels, at
// label name; with split, each store is two.
func winoInputS2Loop(name string, v, x, chans, xStride, vStride, plane, w, w3, rows, split, row5 Register, km []Register, first, second VecVirtual, withSplit bool) {
	Label(name)
	// row loads input row r and returns B^T of its tiles' five columns.
	row := func(r int) [5]VecVirtual {
		var l [5]VecVirtual
		for i := range l {
			l[i] = ZMM()
			VXORPS(l[i], l[i], l[i])
		}
		skip := fmt.Sprintf("%s_row%d", name, r)
		BTQ(U8(r), rows)
		JCC(LabelRef(skip))
		for i := range l {
			VMOVUPS_Z(rowAt5(x, w, w3, r, 64*i), km[i], l[i])
		}
		Label(skip)
		// Columns 0 and 1, then 2 and 3, of tiles 0-7 (from l[0:2]) and
		// 8-15 (from l[2:4]); then each column's 16 tiles.
		var p [2][2]VecVirtual
		for h := range 2 {
			for k, idx := range []VecVirtual{first, second} {
				p[h][k] = ZMM()
				VMOVAPS(l[2*h], p[h][k])
				VPERMT2PS(l[2*h+1], idx, p[h][k])
			}
		}
		var c [5]VecVirtual
		for k := range 2 {
			c[2*k], c[2*k+1] = ZMM(), ZMM()
			VSHUFF32X4(U8(0x44), p[1][k], p[0][k], c[2*k])
			VSHUFF32X4(U8(0xee), p[1][k], p[0][k], c[2*k+1])
		}
		// Column 4 is the next tile's column 0.
		c[4] = ZMM()
		VALIGND(U8(1), c[0], l[4], c[4])
		var o [5]VecVirtual
		o[0], o[2] = ZMM(), ZMM()
		VSUBPS(c[2], c[0], o[0])
		VSUBPS(c[2], c[4], o[2])
		o[1], o[3], o[4] = c[2], c[1], c[3]
		return o
	}
	// store writes row a of V (five elements).
	q, t := GP64(), GP64()
	store := func(a int, o [5]VecVirtual) {
		leaRow(q, v, row5, a)
		for j := range 5 {
			leaRow(t, q, plane, j)
			VMOVUPS(o[j], km[5], Mem{Base: t})
			if withSplit {
				VMOVUPS(o[j], km[6], Mem{Base: t, Index: split, Scale: 1})
			}
		}
	}
	// B^T down the rows: 0-2, 2, 4-2, 1, 3.
	r2 := row(2)
	store(1, r2)
	for _, ra := range [][2]int{{0, 0}, {4, 2}} {
		o := row(ra[0])
		for j := range o {
			VSUBPS(r2[j], o[j], o[j])
		}
		store(ra[1], o)
	}
	store(3, row(1))
	store(4, row(3))
	ADDQ(xStride, x)
	ADDQ(vStride, v)
	DECQ(chans)
	JNZ(LabelRef(name))
}

// rowAt5 is rowAt for rows 0 to 4.
func rowAt5(base, ld, ld3 Register, i, disp int) Mem {
	if i == 4 {
		return Mem{Base: base, Index: ld, Scale: 4, Disp: disp}
	}
	return rowAt(base, ld, ld3, i, disp)
}

// leaRow sets dst to base + i*ld (i from 0 to 4).
func leaRow(dst, base, ld Register, i int) {
	switch i {
	case 0:
		MOVQ(base, dst)
	case 3:
		LEAQ(Mem{Base: base, Index: ld, Scale: 2}, dst)
		ADDQ(ld, dst)
	default:
		LEAQ(Mem{Base: base, Index: ld, Scale: uint8(i)}, dst)
	}
}

// winoOutputS2 emits winoOutputS2AVX512, the stride-2 Winograd's output
// transform: the same tiles from 5x5 elements.
func winoOutputS2() {
	// A^T's rows: 0+1+3 and 1+2+4.
	winoOutputKernel("winoOutputS2AVX512", 5, func(a []VecVirtual, o [2]VecVirtual) {
		VADDPS(a[1], a[0], o[0])
		VADDPS(a[3], o[0], o[0])
		VADDPS(a[2], a[1], o[1])
		VADDPS(a[4], o[1], o[1])
	})
}
