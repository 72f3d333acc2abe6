package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The Winograd F(4x4, 3x3) transforms, 16 tiles a call, one tile a lane.
// A tile's six input columns lie at stride 4, so a row of 16 tiles is a
// 64-float window taken apart by phase (the column mod 4) in two levels
// of two-register permutes, plus two floats past the window for the last
// tile's columns 4 and 5. A narrow image's tile rows share a call: the
// 16 lanes hold groups tile rows of tw tiles each, a group's window in one
// chunk of 16 floats (four groups) or two (two groups), and the permutes
// pack the groups' tiles together. The Go caller plans each call: the
// byte offset and lane mask of every load (or store), so that rows and
// columns in the padding read as zero and calls may span images.
//
// The vertical half of B^T d B (down the rows) is applied to the loaded
// chunks before the permutes, elementwise; the horizontal half after.

// loadTables loads n tables of 16 lane numbers from idx.
func loadTables(idx Register, n int) []VecVirtual {
	t := make([]VecVirtual, n)
	for i := range t {
		t[i] = ZMM()
		VMOVDQU32(Mem{Base: idx, Disp: 64 * i}, t[i])
	}
	return t
}

// wino4Consts broadcasts the multipliers 2, 4 and 8.
func wino4Consts() (two, four, eight VecVirtual) {
	t := GP32()
	c := func(bits uint32) VecVirtual {
		z := ZMM()
		MOVL(U32(bits), t)
		VPBROADCASTD(t, z)
		return z
	}
	return c(0x40000000), c(0x40800000), c(0x41000000)
}

// wino4Input emits wino4InputG<groups>AVX512.
func wino4Input(groups int) {
	name := fmt.Sprintf("wino4InputG%dAVX512", groups)
	TEXT(name, 0, "func(v, x *float32, chans, xStride, vStride, plane int, plan *wino4Plan, idx *[8][16]int32, splitOff int)") // not NOSPLIT: its frame holds B^T d
	Pragma("noescape")
	Doc(name+" writes V = B^T d B for 16 6x6 input tiles of chans",
		fmt.Sprintf("channels, laid out as %d group(s) of tile rows (see wino4Plan). Load", groups),
		"k of input row r reads plan.off[r][k] bytes past x under lane mask",
		"plan.mask[r][k]: loads 0-3 are the four 16-float chunks of the",
		"window, loads 4 on the floats past each group's window, which land in",
		"lanes 2g and 2g+1. Channels are xStride floats apart. idx holds the",
		"permutes: the two first-level ones, the second-level ones for phases",
		"0 and 1, those for the last two columns from the chunks, and those",
		"from the floats past the window, for the lanes of plan.store[2].",
		"Element e of a channel's tiles goes to v[e*plane + c*vStride:], the",
		"tiles of plan.store[0], and those of plan.store[1] splitOff bytes",
		"further on (V in the GEMM's packed panels).")
	v := Load(Param("v"), GP64())
	x := Load(Param("x"), GP64())
	chans := Load(Param("chans"), GP64())
	xStride := Load(Param("xStride"), GP64())
	vStride := Load(Param("vStride"), GP64())
	plane := Load(Param("plane"), GP64())
	plan := Load(Param("plan"), GP64())
	idxP := Load(Param("idx"), GP64())
	split := Load(Param("splitOff"), GP64())
	for _, r := range []Register{xStride, vStride, plane} {
		SHLQ(U8(2), r)
	}
	idx := [8]VecVirtual(loadTables(idxP, 8))
	two, four, _ := wino4Consts()
	ks := loadMasks(plan, 4) // wino4Plan.store comes first
	buf := AllocLocal(6 * 5 * 64)
	TESTQ(chans, chans)
	JZ(LabelRef("done"))
	// A copy of the loop for each case: tiles that run over into the next
	// panel (split) or not, floats past the windows to load (past) or
	// not, where they all lie in the padding (a row a multiple of 4 wide,
	// padded by 1: the CIFAR nets' convs and their gradients).
	KORTESTW(ks[1], ks[1])
	JNZ(LabelRef("split"))
	KORTESTW(ks[3], ks[3])
	JZ(LabelRef("chan"))
	wino4InputLoop("chan_past", groups, v, x, chans, xStride, vStride, plane, plan, split, ks, idx, two, four, false, true, buf)
	JMP(LabelRef("done"))
	Label("split")
	KORTESTW(ks[3], ks[3])
	JZ(LabelRef("chan_split"))
	wino4InputLoop("chan_split_past", groups, v, x, chans, xStride, vStride, plane, plan, split, ks, idx, two, four, true, true, buf)
	JMP(LabelRef("done"))
	wino4InputLoop("chan", groups, v, x, chans, xStride, vStride, plane, plan, split, ks, idx, two, four, false, false, buf)
	JMP(LabelRef("done"))
	wino4InputLoop("chan_split", groups, v, x, chans, xStride, vStride, plane, plan, split, ks, idx, two, four, true, false, buf)
	Label("done")
	VZEROUPPER()
	RET()
}

// The layout of wino4Plan: 4 uint16 store masks, then off [6][16]int64,
// then mask [6][16]uint16.
const (
	wino4OffAt  = 8
	wino4MaskAt = wino4OffAt + 6*16*8
)

// wino4Parts is the loads (stores) that fill one chunk of a row: two
// halves, of two groups' windows, with eight groups.
func wino4Parts(groups, c int) []int {
	if groups == 8 {
		return []int{2 * c, 2*c + 1}
	}
	return []int{c}
}

// wino4Past is the first load of a row's floats past the windows.
func wino4Past(groups int) int {
	if groups == 8 {
		return 8
	}
	return 4
}

// wino4Load emits the masked load k of row r, zeroing the lanes outside
// its mask, or merging into dst if merge.
func wino4Load(x, plan Register, r, k int, dst VecVirtual, merge bool) {
	t := GP64()
	MOVQ(Mem{Base: plan, Disp: wino4OffAt + 8*(16*r+k)}, t)
	km := K()
	KMOVW(Mem{Base: plan, Disp: wino4MaskAt + 2*(16*r+k)}, km)
	if merge {
		VMOVUPS(Mem{Base: x, Index: t, Scale: 1}, km, dst)
	} else {
		VMOVUPS_Z(Mem{Base: x, Index: t, Scale: 1}, km, dst)
	}
}

// wino4Chunk loads chunk c (0-3, or 4: the floats past the windows, one
// load a group) of input row r.
func wino4Chunk(x, plan Register, groups, r, c int) VecVirtual {
	z := ZMM()
	if c < 4 {
		for i, k := range wino4Parts(groups, c) {
			if i == 0 {
				wino4Load(x, plan, r, k, z, false)
				continue
			}
			// Into a register of its own, not merged into z: a merging
			// load waits for z.
			h := ZMM()
			wino4Load(x, plan, r, k, h, false)
			VORPS(h, z, z)
		}
		return z
	}
	for g := range groups {
		wino4Load(x, plan, r, wino4Past(groups)+g, z, g > 0)
	}
	return z
}

// wino4InputLoop emits the loop over the channels at label name, with
// B^T down the rows of buf, a frame of 30 chunks. It loads each input row
// once, a chunk of all six rows at a time, keeps the six rows of B^T d in
// buf, and then takes each row apart: the loads of the plan's offsets and
// masks, three a chunk, limited the kernel when it loaded rows again for
// each pair of B^T's rows (eight groups' two loads a chunk took twice as
// long a tile as four groups' one).
func wino4InputLoop(name string, groups int, v, x, chans, xStride, vStride, plane, plan, split Register, ks []Register, idx [8]VecVirtual, two, four VecVirtual, withSplit, withPast bool, buf Mem) {
	Label(name)
	n := 4 // chunks, and the floats past the windows if withPast
	if withPast {
		n = 5
	}
	at := func(r, c int) Mem { return buf.Offset(64 * (5*r + c)) }
	for c := range n {
		var d [6]VecVirtual
		for r := range d {
			d[r] = wino4Chunk(x, plan, groups, r, c)
		}
		for r, z := range wino4BT(d, two, four) {
			VMOVUPS(z, at(r, c))
		}
	}
	q := GP64()
	MOVQ(v, q)
	for r := range 6 {
		var t [5]VecVirtual
		for c := range n {
			t[c] = ZMM()
			VMOVUPS(at(r, c), t[c])
		}
		wino4Row(t, q, plane, split, ks, idx, two, four, withSplit)
	}
	ADDQ(xStride, x)
	ADDQ(vStride, v)
	DECQ(chans)
	JNZ(LabelRef(name))
}

// wino4Row takes one row of B^T d (its four chunks and the floats past
// the windows, or zeros there if t[4] is nil) apart into the tiles' six columns, applies B along them
// and stores the six elements at q, q+plane, ..., leaving q past them.
func wino4Row(t [5]VecVirtual, q, plane, split Register, ks []Register, idx [8]VecVirtual, two, four VecVirtual, withSplit bool) {
	perm := func(a, b, i VecVirtual) VecVirtual {
		z := ZMM()
		VMOVAPS(a, z)
		VPERMT2PS(b, i, z)
		return z
	}
	// First level: phases 0 and 1 (A), 2 and 3 (B) of each chunk pair's
	// eight tile slots; second: each phase's tiles packed in order.
	a, b := perm(t[0], t[1], idx[0]), perm(t[0], t[1], idx[1])
	a2, b2 := perm(t[2], t[3], idx[0]), perm(t[2], t[3], idx[1])
	var j [6]VecVirtual
	j[0], j[1] = perm(a, a2, idx[2]), perm(a, a2, idx[3])
	j[2], j[3] = perm(b, b2, idx[2]), perm(b, b2, idx[3])
	// Columns 4 and 5: the next slot's phases 0 and 1, or past the window.
	j[4], j[5] = perm(a, a2, idx[4]), perm(a, a2, idx[5])
	if t[4] != nil {
		VPERMPS(t[4], idx[6], ks[2], j[4])
		VPERMPS(t[4], idx[7], ks[2], j[5])
	} else {
		// Past the windows lies only padding.
		zero := ZMM()
		VXORPS(zero, zero, zero)
		VMOVAPS(zero, ks[2], j[4])
		VMOVAPS(zero, ks[2], j[5])
	}
	o := wino4BT(j, two, four)
	for _, z := range o {
		VMOVUPS(z, ks[0], Mem{Base: q})
		if withSplit {
			VMOVUPS(z, ks[1], Mem{Base: q, Index: split, Scale: 1})
		}
		ADDQ(plane, q)
	}
}

// wino4BT applies B^T to six registers as bt6 does in Go.
func wino4BT(x [6]VecVirtual, two, four VecVirtual) [6]VecVirtual {
	var o [6]VecVirtual
	for i := range o {
		o[i] = ZMM()
	}
	s, t, u, v, w := ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
	VMOVAPS(x[4], s)
	VFNMADD231PS(four, x[2], s) // s = x4 - 4 x2
	VMOVAPS(x[3], t)
	VFNMADD231PS(four, x[1], t) // t = x3 - 4 x1
	VSUBPS(x[2], x[4], u)       // u = x4 - x2
	VSUBPS(x[1], x[3], v)       // v = x3 - x1
	VMOVAPS(x[5], w)
	VFNMADD231PS(four, x[3], w) // w = x5 - 4 x3
	VSUBPS(x[2], s, o[0])
	VFMADD231PS(four, x[0], o[0])
	VADDPS(t, s, o[1])
	VSUBPS(t, s, o[2])
	VMOVAPS(u, o[3])
	VFMADD231PS(two, v, o[3])
	VMOVAPS(u, o[4])
	VFNMADD231PS(two, v, o[4])
	VSUBPS(x[3], w, o[5])
	VFMADD231PS(four, x[1], o[5])
	return o
}

// wino4Output emits wino4OutputG<groups>AVX512.
func wino4Output(groups int) {
	name := fmt.Sprintf("wino4OutputG%dAVX512", groups)
	TEXT(name, NOSPLIT, "func(y, m, res, bias *float32, chans, yStride, mStride, plane, flags int, plan *wino4Plan, idx *[4][16]int32)")
	Pragma("noescape")
	Doc(name+" writes the 4x4 output tiles A^T M A of 16 tiles of",
		fmt.Sprintf("chans channels, laid out as %d group(s) of tile rows (see wino4Plan):", groups),
		"element e of channel k's tiles is at m[e*plane + k*mStride:], the",
		"tiles of plan.store[0]. Chunk c of output row i is stored plan.off[i][c]",
		"bytes past y under lane mask plan.mask[i][c], channels yStride floats",
		"apart. Each value gets bias[k] if flags&8, then the residual (at the",
		"same offsets from res) if flags&2, then the ReLU if flags&1. idx holds",
		"the permutes that interleave the tiles' four columns back into chunks:",
		"two first-level ones, then the second-level ones for chunks 0 and 2,",
		"and 1 and 3.")
	y := Load(Param("y"), GP64())
	m := Load(Param("m"), GP64())
	res := Load(Param("res"), GP64())
	bias := Load(Param("bias"), GP64())
	chans := Load(Param("chans"), GP64())
	yStride := Load(Param("yStride"), GP64())
	mStride := Load(Param("mStride"), GP64())
	plane := Load(Param("plane"), GP64())
	flags := Load(Param("flags"), GP64())
	plan := Load(Param("plan"), GP64())
	idxP := Load(Param("idx"), GP64())
	for _, r := range []Register{yStride, mStride, plane} {
		SHLQ(U8(2), r)
	}
	idx := [4]VecVirtual(loadTables(idxP, 4))
	two, four, eight := wino4Consts()
	zero := ZMM()
	VXORPS(zero, zero, zero)
	lanes := loadMasks(plan, 1)[0]
	plane6, plane18 := GP64(), GP64()
	MOVQ(plane, plane6)
	IMUL3Q(U8(6), plane6, plane6)
	MOVQ(plane6, plane18)
	IMUL3Q(U8(3), plane18, plane18)
	TESTQ(chans, chans)
	JZ(LabelRef("done"))
	// A copy of the loop for each combination of flags, so that the
	// epilogue tests nothing per chunk.
	ANDQ(U8(11), flags)
	for _, f := range []int{0, 1, 2, 3, 8, 9, 10, 11} {
		CMPQ(flags, U8(f))
		JE(LabelRef(fmt.Sprintf("chan%d", f)))
	}
	for _, f := range []int{0, 1, 2, 3, 8, 9, 10, 11} {
		wino4OutputLoop(fmt.Sprintf("chan%d", f), f, groups, y, m, res, bias, chans, yStride, mStride, plane, plane6, plane18, plan, lanes, idx, two, four, eight, zero)
		JMP(LabelRef("done"))
	}
	Label("done")
	VZEROUPPER()
	RET()
}

// wino4OutputLoop emits the loop over the channels at label name, for
// the flags f.
func wino4OutputLoop(name string, f, groups int, y, m, res, bias, chans, yStride, mStride, plane, plane6, plane18, plan, lanes Register, idx [4]VecVirtual, two, four, eight, zero VecVirtual) {
	Label(name)
	// Element 6r+j of column j and row r lies at m + j*plane + r*plane6.
	elem := func(q Register, r int) Mem {
		switch r {
		case 0:
			return Mem{Base: q}
		case 1:
			return Mem{Base: q, Index: plane6, Scale: 1}
		case 2:
			return Mem{Base: q, Index: plane6, Scale: 2}
		case 3:
			return Mem{Base: q, Index: plane18, Scale: 1}
		}
		return Mem{Base: q, Index: plane6, Scale: 4}
	}
	load := func(q Register, r int) VecVirtual {
		z := ZMM()
		VMOVUPS_Z(elem(q, r), lanes, z)
		return z
	}
	var b VecVirtual
	if f&8 != 0 {
		b = ZMM()
		VBROADCASTSS(Mem{Base: bias}, b)
	}
	q := GP64()
	// Output rows 0 and 2 from M's rows 0 to 4 (A^T's sums); then rows 1
	// and 3 from rows 1 to 5 (its differences), at6's order in Go.
	for half := range 2 {
		MOVQ(m, q)
		if half == 1 {
			ADDQ(plane6, q)
		}
		var a, c [6]VecVirtual
		for j := range 6 {
			m0, m1, m2, m3, m4 := load(q, 0), load(q, 1), load(q, 2), load(q, 3), load(q, 4)
			a[j], c[j] = ZMM(), ZMM()
			if half == 0 {
				// m0..m4 are M's rows 0-4: s1 = m1+m2, s2 = m3+m4.
				VADDPS(m2, m1, m1)
				VADDPS(m4, m3, m3)
				VADDPS(m1, m0, a[j])
				VADDPS(m3, a[j], a[j]) // (m0 + s1) + s2
				VMOVAPS(m1, c[j])
				VFMADD231PS(four, m3, c[j]) // s1 + 4 s2
			} else {
				// m0..m4 are M's rows 1-5: d1 = m1-m2, d2 = m3-m4.
				VSUBPS(m1, m0, m0)
				VSUBPS(m3, m2, m2)
				VMOVAPS(m0, a[j])
				VFMADD231PS(two, m2, a[j]) // d1 + 2 d2
				VADDPS(m0, m4, c[j])
				VFMADD231PS(eight, m2, c[j]) // (m5 + d1) + 8 d2
			}
			ADDQ(plane, q)
		}
		for i, row := range [2][6]VecVirtual{a, c} {
			wino4OutRow(half+2*i, f, groups, row, y, res, b, plan, idx, two, four, eight, zero)
		}
	}
	for _, r := range []Register{y, res} {
		ADDQ(yStride, r)
	}
	ADDQ(mStride, m)
	ADDQ(U8(4), bias)
	DECQ(chans)
	JNZ(LabelRef(name))
}

// wino4OutRow applies A^T along row i of A^T M, as at6 in Go, adds the
// bias, interleaves the tiles' four columns back into the row's chunks,
// and stores them with the residual and the ReLU.
func wino4OutRow(i, f, groups int, a [6]VecVirtual, y, res Register, b VecVirtual, plan Register, idx [4]VecVirtual, two, four, eight, zero VecVirtual) {
	var o [4]VecVirtual
	for k := range o {
		o[k] = ZMM()
	}
	s1, d1, s2, d2 := ZMM(), ZMM(), ZMM(), ZMM()
	VADDPS(a[2], a[1], s1)
	VSUBPS(a[2], a[1], d1)
	VADDPS(a[4], a[3], s2)
	VSUBPS(a[4], a[3], d2)
	VADDPS(s1, a[0], o[0])
	VADDPS(s2, o[0], o[0]) // (a0 + s1) + s2
	VMOVAPS(d1, o[1])
	VFMADD231PS(two, d2, o[1]) // d1 + 2 d2
	VMOVAPS(s1, o[2])
	VFMADD231PS(four, s2, o[2]) // s1 + 4 s2
	VADDPS(d1, a[5], o[3])
	VFMADD231PS(eight, d2, o[3]) // (a5 + d1) + 8 d2
	if f&8 != 0 {
		for _, z := range o {
			VADDPS(b, z, z)
		}
	}
	perm := func(a, b, i VecVirtual) VecVirtual {
		z := ZMM()
		VMOVAPS(a, z)
		VPERMT2PS(b, i, z)
		return z
	}
	pa, pa2 := perm(o[0], o[1], idx[0]), perm(o[0], o[1], idx[1])
	pb, pb2 := perm(o[2], o[3], idx[0]), perm(o[2], o[3], idx[1])
	chunks := [4]VecVirtual{perm(pa, pb, idx[2]), perm(pa, pb, idx[3]), perm(pa2, pb2, idx[2]), perm(pa2, pb2, idx[3])}
	for c, z := range chunks {
		parts := wino4Parts(groups, c)
		t, km := make([]Register, len(parts)), make([]Register, len(parts))
		for j, k := range parts {
			t[j], km[j] = GP64(), K()
			MOVQ(Mem{Base: plan, Disp: wino4OffAt + 8*(16*i+k)}, t[j])
			KMOVW(Mem{Base: plan, Disp: wino4MaskAt + 2*(16*i+k)}, km[j])
		}
		if f&2 != 0 {
			r := ZMM()
			for j := range parts {
				if j == 0 {
					VMOVUPS_Z(Mem{Base: res, Index: t[j], Scale: 1}, km[j], r)
				} else {
					VMOVUPS(Mem{Base: res, Index: t[j], Scale: 1}, km[j], r)
				}
			}
			VADDPS(r, z, z)
		}
		if f&1 != 0 {
			VMAXPS(z, zero, z) // a NaN passes, as through Go's max
		}
		for j := range parts {
			VMOVUPS(z, km[j], Mem{Base: y, Index: t[j], Scale: 1})
		}
	}
}

// wino4Dy emits wino4DyG<groups>AVX512, the transform of dy for the weight
// gradient by F(3x3, 4x4): U = A g A^T of its 4x4 tiles g. A tile's four
// columns are phases 0-3 of the window the input transform reads, so the
// same plan and first four permutes take them apart. The four rows are
// taken apart first, 32 permutes, and the whole A g A^T is done in
// registers: after A down the rows, six rows would take 48.
func wino4Dy(groups int) {
	name := fmt.Sprintf("wino4DyG%dAVX512", groups)
	TEXT(name, NOSPLIT, "func(u, dy *float32, chans, dyStride, uStride, plane int, plan *wino4Plan, idx *[8][16]int32)")
	Pragma("noescape")
	Doc(name+" writes U = A g A^T for 16 4x4 tiles g of chans",
		fmt.Sprintf("channels of dy, laid out as %d group(s) of tile rows (see wino4Plan),", groups),
		"A being F(4x4, 3x3)'s A^T transposed. Chunk k of row r of the tiles",
		"reads plan.off[r][k] bytes past dy under lane mask plan.mask[r][k];",
		"channels are dyStride floats apart. idx holds the input transform's",
		"permutes, of which the first four take the tiles' columns apart.",
		"Element e of a channel's tiles goes to u[e*plane + c*uStride:], the",
		"tiles of plan.store[0].")
	u := Load(Param("u"), GP64())
	dy := Load(Param("dy"), GP64())
	chans := Load(Param("chans"), GP64())
	dyStride := Load(Param("dyStride"), GP64())
	uStride := Load(Param("uStride"), GP64())
	plane := Load(Param("plane"), GP64())
	plan := Load(Param("plan"), GP64())
	idxP := Load(Param("idx"), GP64())
	for _, r := range []Register{dyStride, uStride, plane} {
		SHLQ(U8(2), r)
	}
	idx := [4]VecVirtual(loadTables(idxP, 4))
	two, four, _ := wino4Consts()
	ks := loadMasks(plan, 1)[0]
	TESTQ(chans, chans)
	JZ(LabelRef("done"))
	Label("chan")
	perm := func(a, b, i VecVirtual) VecVirtual {
		z := ZMM()
		VMOVAPS(a, z)
		VPERMT2PS(b, i, z)
		return z
	}
	// g[r][j]: row r, column j of the tiles, one tile a lane.
	var g [4][4]VecVirtual
	for r := range 4 {
		var t [4]VecVirtual
		for c := range t {
			t[c] = wino4Chunk(dy, plan, groups, r, c)
		}
		a, b := perm(t[0], t[1], idx[0]), perm(t[0], t[1], idx[1])
		a2, b2 := perm(t[2], t[3], idx[0]), perm(t[2], t[3], idx[1])
		g[r] = [4]VecVirtual{perm(a, a2, idx[2]), perm(a, a2, idx[3]), perm(b, b2, idx[2]), perm(b, b2, idx[3])}
	}
	q := GP64()
	MOVQ(u, q)
	// The rows of A g, as a6 in Go, each then taken along by wino4DyRow:
	// g0; e1 + o1 and e1 - o1; e2 + 2h and e2 - 2h; g3.
	row := func(f func(j int) VecVirtual) {
		var t [4]VecVirtual
		for j := range t {
			t[j] = f(j)
		}
		wino4DyRow(t, q, plane, ks, two, four)
	}
	row(func(j int) VecVirtual { return g[0][j] })
	for _, sub := range []bool{false, true} {
		row(func(j int) VecVirtual {
			e1, o1 := ZMM(), ZMM()
			VADDPS(g[2][j], g[0][j], e1)
			VADDPS(g[3][j], g[1][j], o1)
			if sub {
				VSUBPS(o1, e1, e1)
			} else {
				VADDPS(o1, e1, e1)
			}
			return e1
		})
	}
	for _, sub := range []bool{false, true} {
		row(func(j int) VecVirtual {
			e2, h := ZMM(), ZMM()
			VMOVAPS(g[0][j], e2)
			VFMADD231PS(four, g[2][j], e2) // e2 = g0 + 4 g2
			VMOVAPS(g[1][j], h)
			VFMADD231PS(four, g[3][j], h) // h = g1 + 4 g3
			if sub {
				VFNMADD231PS(two, h, e2)
			} else {
				VFMADD231PS(two, h, e2)
			}
			return e2
		})
	}
	row(func(j int) VecVirtual { return g[3][j] })
	ADDQ(dyStride, dy)
	ADDQ(uStride, u)
	DECQ(chans)
	JNZ(LabelRef("chan"))
	Label("done")
	VZEROUPPER()
	RET()
}

// wino4DyRow applies A along one row t of A g, as a6 does in Go, and
// stores the six elements at q, q+plane, ..., leaving q past them.
func wino4DyRow(t [4]VecVirtual, q, plane Register, ks Register, two, four VecVirtual) {
	e1, o1, e2, h := ZMM(), ZMM(), ZMM(), ZMM()
	VADDPS(t[2], t[0], e1)
	VADDPS(t[3], t[1], o1)
	VMOVAPS(t[0], e2)
	VFMADD231PS(four, t[2], e2)
	VMOVAPS(t[1], h)
	VFMADD231PS(four, t[3], h)
	var o [6]VecVirtual
	o[0], o[5] = t[0], t[3]
	o[1], o[2], o[3], o[4] = ZMM(), ZMM(), ZMM(), ZMM()
	VADDPS(o1, e1, o[1])
	VSUBPS(o1, e1, o[2])
	VMOVAPS(e2, o[3])
	VFMADD231PS(two, h, o[3])
	VMOVAPS(e2, o[4])
	VFNMADD231PS(two, h, o[4])
	for _, z := range o {
		VMOVUPS(z, ks, Mem{Base: q})
		ADDQ(plane, q)
	}
}
