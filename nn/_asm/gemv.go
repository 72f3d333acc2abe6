package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// kernel12xNTiles emits kernel12x<cols>TilesAVX512: cols (1 to 4) columns
// of C from the same packed panels as the 12x32 kernel, a lane per row of
// the tile. A panel of B whose last few columns spill past a multiple of
// 16 (7x7 = 49: 32 + 16 + 1; 14x14 = 196: 6 x 32 + 4) would otherwise
// run a whole 16-column kernel for them: this takes them at one multiply
// a step of k each, the rows of the tile in one register times B's value
// broadcast, a step of A loaded once for all of them. Its epilogue is the
// tiles', through gathers and scatters down each column.
func kernel12xNTiles(cols int) {
	name := fmt.Sprintf("kernel12x%dTilesAVX512", cols)
	TEXT(name, NOSPLIT, "func(kc, tiles int, a, b, c *float32, ldc int, rows uint16, flags int, bias, res *float32, ldr int, idx *[2][16]int32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s stores into (or, with flag 1, adds to) rows i of the %d", name, cols),
		"columns at c, c[i*ldc+j] for the lanes i of rows, the product of a packed",
		"12 x kc panel a (12 values per step of k) and the columns at b of a packed",
		"kc x 32 panel (step k of column j at b[32k+j]), then applies the tiles'",
		"epilogue (flags 2, 4 and 8: bias[i], res[i*ldr+j], the ReLU). It does so",
		"for tiles tiles down c, each from the next panel of a and the next 12 rows",
		"of c, bias and res. idx[0] and idx[1] hold i*ldc and i*ldr. kc and tiles",
		"are at least 1.")
	rows, full := K(), K()
	m := GP32()
	Load(Param("rows"), m)
	KMOVW(m, rows)
	MOVL(U32(0x0fff), m)
	KMOVW(m, full)
	cidx, ridx := columnIndexes()
	a, c, bias, res := Load(Param("a"), GP64()), Load(Param("c"), GP64()), Load(Param("bias"), GP64()), Load(Param("res"), GP64())
	n := Load(Param("tiles"), GP64())
	flags := Load(Param("flags"), GP64())
	// acc[u][j] sums column j over the steps k = u mod 4: four sums a
	// column, so that an FMA's latency does not stall the next.
	acc := make([][]VecVirtual, 4)
	for u := range acc {
		for range cols {
			acc[u] = append(acc[u], ZMM())
		}
	}
	t, zero := ZMM(), ZMM()
	VXORPS(zero, zero, zero)
	kc, b := GP64(), GP64()

	Label("tile")
	for _, u := range acc {
		for _, v := range u {
			VXORPS(v, v, v)
		}
	}
	Load(Param("kc"), kc)
	Load(Param("b"), b)
	step := func(u int) {
		VMOVUPS_Z(Mem{Base: a, Disp: 48 * u}, full, t)
		for j, v := range acc[u] {
			VFMADD231PS_BCST(Mem{Base: b, Disp: 128*u + 4*j}, t, v)
		}
	}
	kLoop(kc, a, b, step, packedB(b), false)
	g := K()
	for j := range cols {
		s := acc[0][j]
		VADDPS(acc[1][j], s, s)
		VADDPS(acc[3][j], acc[2][j], acc[2][j])
		VADDPS(acc[2][j], s, s)
		columnEpilogue(fmt.Sprint(j), s, j, rows, g, c, bias, res, flags, cidx, ridx, t, zero)
	}

	// The next 12 rows: a already points at the next panel.
	ld := Load(Param("ldc"), GP64())
	IMUL3Q(U8(48), ld, ld)
	ADDQ(ld, c)
	Load(Param("ldr"), ld)
	IMUL3Q(U8(48), ld, ld)
	ADDQ(ld, res)
	ADDQ(U8(48), bias)
	DECQ(n)
	JNZ(LabelRef("tile"))
	VZEROUPPER()
	RET()
}

// columnIndexes loads the offsets down a tile of C and of the residual
// (the kernels' idx parameter) for the gathers and scatters of its columns.
func columnIndexes() (cidx, ridx VecVirtual) {
	ip := Load(Param("idx"), GP64())
	cidx, ridx = ZMM(), ZMM()
	VMOVDQU32(Mem{Base: ip}, cidx)
	VMOVDQU32(Mem{Base: ip, Disp: 64}, ridx)
	return cidx, ridx
}

// columnEpilogue emits the epilogue of column col of a tile, its rows the
// lanes of s under the mask rows, in the tile kernels' order: C gathered
// and added (accumulate), the bias, the residual gathered and added, the
// ReLU, then the column scattered back; g and t are scratch. Its labels
// end in id.
func columnEpilogue(id string, s VecVirtual, col int, rows, g, c, bias, res, flags Register, cidx, ridx, t, zero VecVirtual) {
	skip := func(bit uint32, what string) string {
		l := what + "_" + id
		TESTQ(U32(bit), flags)
		JZ(LabelRef(l))
		return l
	}
	l := skip(flagAccumulate, "noacc")
	KMOVW(rows, g)
	VXORPS(t, t, t)
	VGATHERDPS(Mem{Base: c, Disp: 4 * col, Index: cidx, Scale: 4}, g, t)
	VADDPS(t, s, s)
	Label(l)
	l = skip(flagBias, "nobias")
	VMOVUPS_Z(Mem{Base: bias}, rows, t)
	VADDPS(t, s, s)
	Label(l)
	l = skip(flagResidual, "nores")
	KMOVW(rows, g)
	VXORPS(t, t, t)
	VGATHERDPS(Mem{Base: res, Disp: 4 * col, Index: ridx, Scale: 4}, g, t)
	VADDPS(t, s, s)
	Label(l)
	l = skip(flagReLU, "norelu")
	// The sum is the source operand a NaN comes from, as in the tiles.
	VMAXPS(s, zero, s)
	Label(l)
	KMOVW(rows, g)
	VSCATTERDPS(s, g, Mem{Base: c, Disp: 4 * col, Index: cidx, Scale: 4})
}
