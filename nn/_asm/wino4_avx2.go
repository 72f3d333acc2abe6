package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The Winograd F(4x4, 3x3) transforms for AVX2, 8 tiles of one tile row a
// group, one tile a lane. The eight tiles' windows start 4 floats apart,
// so their 32 + 2 columns are four YMM of a row plus two floats. The
// vertical half of a transform is elementwise on those rows; the
// horizontal half needs each column phase (the column mod 4) in a
// register of its own, which a 4x4 transpose within each 128-bit half
// gives, its tiles in the order 0 2 4 6 1 3 5 7, and one permute puts in
// lane order (the output transform goes the other way). The operations
// are those of nn's bt6 and at6, in their order, and every multiply is by
// a power of two, so the bits are the Go transforms' bits.

// avx2Consts broadcasts the multipliers 2, 4 and 8 into YMM registers.
func avx2Consts() (two, four, eight VecVirtual) {
	t := GP32()
	c := func(bits uint32) VecVirtual {
		x, y := XMM(), YMM()
		MOVL(U32(bits), t)
		VMOVD(t, x)
		VBROADCASTSS(x, y)
		return y
	}
	return c(0x40000000), c(0x40800000), c(0x41000000)
}

// laneTable loads 8 int32 lane numbers into a YMM register.
func laneTable(idx []int32) VecVirtual {
	t := GP32()
	half := func(idx []int32) VecVirtual {
		x := XMM()
		MOVL(U32(uint32(idx[0])), t)
		VMOVD(t, x)
		for l := 1; l < 4; l++ {
			MOVL(U32(uint32(idx[l])), t)
			VPINSRD(U8(uint8(l)), t, x, x)
		}
		return x
	}
	lo, hi := half(idx[:4]), half(idx[4:])
	y := YMM()
	VINSERTF128(U8(1), hi, lo.AsY(), y)
	return y
}

// transpose4 transposes the 4x4 blocks of a, b, c, d within each 128-bit
// half: out[p] takes element p of each half of a, b, c and d.
func transpose4(a, b, c, d VecVirtual) [4]VecVirtual {
	return [4]VecVirtual(transposeN(a, b, c, d, 4))
}

// transposeN is transpose4 for its first n outputs only (the others are
// not computed).
func transposeN(a, b, c, d VecVirtual, n int) []VecVirtual {
	t0, t1, t2, t3 := YMM(), YMM(), YMM(), YMM()
	VUNPCKLPS(b, a, t0) // a0 b0 a1 b1
	if n > 2 {
		VUNPCKHPS(b, a, t1) // a2 b2 a3 b3
	}
	VUNPCKLPS(d, c, t2) // c0 d0 c1 d1
	if n > 2 {
		VUNPCKHPS(d, c, t3) // c2 d2 c3 d3
	}
	o := make([]VecVirtual, n)
	for i := range o {
		o[i] = YMM()
	}
	imm := []uint8{0x44, 0xee, 0x44, 0xee}
	src := [][2]VecVirtual{{t2, t0}, {t2, t0}, {t3, t1}, {t3, t1}}
	for i := range o {
		VSHUFPS(U8(imm[i]), src[i][0], src[i][1], o[i])
	}
	return o
}

// bt6AVX2 emits B^T applied to x, as nn's bt6 orders it, handing each
// output to out as soon as it is made so that few registers are live. It
// writes over x's registers once it is done with them (the callers' are
// loads and permutes of their own), which spares all but one copy.
func bt6AVX2(x [6]VecVirtual, two, four VecVirtual, out func(k int, v VecVirtual)) {
	u, v := YMM(), YMM()
	VSUBPS(x[2], x[4], u)          // x4 - x2
	VSUBPS(x[1], x[3], v)          // x3 - x1
	VFNMADD231PS(x[3], four, x[5]) // w = x5 - 4 x3
	o := YMM()
	VSUBPS(x[3], x[5], o)
	VFMADD231PS(x[1], four, o) // (w - x3) + 4 x1
	out(5, o)
	VFNMADD231PS(x[2], four, x[4]) // s = x4 - 4 x2
	o = YMM()
	VSUBPS(x[2], x[4], o)
	VFMADD231PS(x[0], four, o) // (s - x2) + 4 x0
	out(0, o)
	VFNMADD231PS(x[1], four, x[3]) // t = x3 - 4 x1
	o = YMM()
	VADDPS(x[3], x[4], o)
	out(1, o) // s + t
	o = YMM()
	VSUBPS(x[3], x[4], o)
	out(2, o) // s - t
	o = YMM()
	VMOVAPS(u, o)
	VFMADD231PS(v, two, o) // u + 2 v
	out(3, o)
	VFNMADD231PS(v, two, u) // u - 2 v
	out(4, u)
}

// at6AVX2 emits A^T applied to m, as nn's at6 orders it.
func at6AVX2(m [6]VecVirtual, two, four, eight VecVirtual) [4]VecVirtual {
	s1, d1, s2, d2 := YMM(), YMM(), YMM(), YMM()
	VADDPS(m[2], m[1], s1)
	VSUBPS(m[2], m[1], d1)
	VADDPS(m[4], m[3], s2)
	VSUBPS(m[4], m[3], d2)
	var o [4]VecVirtual
	for i := range o {
		o[i] = YMM()
	}
	VADDPS(s1, m[0], o[0])
	VADDPS(s2, o[0], o[0]) // (m0 + s1) + s2
	VMOVAPS(d1, o[1])
	VFMADD231PS(d2, two, o[1]) // d1 + 2 d2
	VMOVAPS(s1, o[2])
	VFMADD231PS(s2, four, o[2]) // s1 + 4 s2
	VADDPS(d1, m[5], o[3])
	VFMADD231PS(d2, eight, o[3]) // (m5 + d1) + 8 d2
	return o
}

// The F(4x4, 3x3) kernels take a planned group of 8 tiles over all the
// channels: each pair of lanes (a block of 8 columns of a row) is two
// neighbouring tiles of one tile row, of any tile row and image, so that
// small images fill the lanes with several tile rows. The Go caller plans
// each block's byte offset from the first channel and its kind: 0 reads
// or writes nothing (rows and columns all outside), 1 a whole block, 2 a
// block under a lane mask (the mask's byte offset into a table of masks).
// The input's columns 4 and 5 of each tile come from a second load of
// each block 4 columns on (the neighbouring tiles' columns 0 and 1, and
// past a tile row's last tile its own), taken apart the same way.

// cold holds the rarely taken paths of the kernel being emitted: emitCold
// places them after its RET, so that the common path runs straight on,
// with no taken jump around them (the planned kernels have one such path
// for each of their 36 to 48 loads and stores).
var cold []func()

// emitCold emits the cold paths gathered since the last call, and those
// they gather in turn.
func emitCold() {
	for len(cold) > 0 {
		f := cold[0]
		cold = cold[1:]
		f()
	}
}

// ret ends a kernel: VZEROUPPER, RET, then its cold paths.
func ret() {
	VZEROUPPER()
	RET()
	emitCold()
}

// blockLoad emits the load of a planned block into dst: its kind at
// kinds, its offset at offs, its mask at table + the offset at midx. A
// whole block is loaded in line; the others on a cold path.
func blockLoad(base, kinds, offs, midx, table Register, at int, dst VecVirtual, id string) {
	kind, off := GP32(), GP64()
	MOVBLZX(Mem{Base: kinds, Disp: at}, kind)
	MOVQ(Mem{Base: offs, Disp: 8 * at}, off)
	CMPL(kind, U8(1))
	JNE(LabelRef("notwhole_" + id))
	VMOVUPS(Mem{Base: base, Index: off, Scale: 1}, dst)
	Label("loaded_" + id)
	cold = append(cold, func() {
		Label("notwhole_" + id)
		VXORPS(dst, dst, dst)
		TESTL(kind, kind)
		JZ(LabelRef("loaded_" + id))
		maskedLoad(Mem{Base: base, Index: off, Scale: 1}, table, Mem{Base: midx, Disp: 4 * at}, dst)
		JMP(LabelRef("loaded_" + id))
	})
}

// maskedLoad loads src into dst under the mask at table plus the int32
// byte offset at mi.
func maskedLoad(src Mem, table Register, mi Mem, dst VecVirtual) {
	i := GP64()
	MOVLQSX(mi, i)
	m := YMM()
	VMOVUPS(Mem{Base: table, Index: i, Scale: 1}, m)
	VMASKMOVPS(src, m, dst)
}

// planFields points offs, midx and kinds at a plan's fields: blocks
// byte offsets (8 bytes each), then their mask offsets (4), then their
// kinds (1).
func planFields(plan Register, blocks int) (offs, midx, kinds Register) {
	offs, midx, kinds = GP64(), GP64(), GP64()
	MOVQ(plan, offs)
	LEAQ(Mem{Base: plan, Disp: 8 * blocks}, midx)
	LEAQ(Mem{Base: plan, Disp: 12 * blocks}, kinds)
	return offs, midx, kinds
}

// sixPlanes is plane k (0 to 5) of six, plane bytes apart from base, out3
// holding base plus three planes.
func sixPlanes(base, out3, plane Register, k int) Mem {
	if k >= 3 {
		base, k = out3, k-3
	}
	if k == 0 {
		return Mem{Base: base}
	}
	return Mem{Base: base, Index: plane, Scale: uint8(k)}
}

// wholeColumns are the fields of a plan (from its start, as offs points)
// that give the columns of blocks whose rows are all whole: col, each
// column's offset (its first row's, 8 bytes each), and whole, 1 for
// such a column (a byte each); row and row3 hold the bytes from a row of
// the input to the next and to the third.
type wholeColumns struct {
	col, whole int
	row, row3  Register
}

// loadWholeColumns returns the wholeColumns of a plan (at plan) of
// blocks blocks in rows of cols, its row stride loaded: after the
// blocks' offsets (8 bytes each), mask offsets (4) and kinds (1), col
// (cols of 8 bytes), whole (cols bytes), then row (8, aligned).
func loadWholeColumns(plan Register, blocks, cols int) *wholeColumns {
	col := 13 * blocks
	whole := col + 8*cols
	wc := &wholeColumns{col: col, whole: whole, row: GP64(), row3: GP64()}
	MOVQ(Mem{Base: plan, Disp: (whole + cols + 7) &^ 7}, wc.row)
	LEAQ(Mem{Base: wc.row, Index: wc.row, Scale: 2}, wc.row3)
	return wc
}

// plannedColumns emits the first half of a planned kernel: for each of
// blocks blocks, its rows rows loaded as the plan says (row i's at
// i*blocks+b) and transformed down the column by transform, whose
// outputs k go to row k of buf (blocks blocks a row). With wc (at most 6
// rows), a column the plan marks whole is loaded from its first row's
// offset by the row stride, with no test a block: the blocks' own
// fields are read only on the cold path of a column that is not (3
// instructions fewer a block, less 5 a column).
func plannedColumns(base, kinds, offs, midx, table Register, buf Mem, blocks, rows int, wc *wholeColumns, transform func(r []VecVirtual, out func(k int, o VecVirtual))) {
	for b := 0; b < blocks; b++ {
		r := make([]VecVirtual, rows)
		for i := range r {
			r[i] = YMM()
		}
		planned := func() {
			for i := range r {
				blockLoad(base, kinds, offs, midx, table, blocks*i+b, r[i], fmt.Sprintf("%d_%d", i, b))
			}
		}
		if wc == nil {
			planned()
		} else {
			id := fmt.Sprint(b)
			CMPB(Mem{Base: offs, Disp: wc.whole + b}, U8(0))
			JEQ(LabelRef("partcol_" + id))
			p, p3 := GP64(), GP64()
			MOVQ(Mem{Base: offs, Disp: wc.col + 8*b}, p)
			ADDQ(base, p)
			LEAQ(Mem{Base: p, Index: wc.row3, Scale: 1}, p3)
			for i := range r {
				VMOVUPS(sixPlanes(p, p3, wc.row, i), r[i])
			}
			Label("colloaded_" + id)
			cold = append(cold, func() {
				Label("partcol_" + id)
				planned()
				JMP(LabelRef("colloaded_" + id))
			})
		}
		transform(r, func(k int, o VecVirtual) {
			VMOVUPS(o, buf.Offset(32*(blocks*k+b)))
		})
	}
}

// rowPhases loads row i of blocks blocks from buf and takes it apart by
// column phase: 4x4 transposes of each 4 blocks, then the permute order
// into lane order, phases of them (the first transpose's 4, then the
// next one's).
func rowPhases(buf Mem, i, blocks, phases int, order VecVirtual) []VecVirtual {
	blk := make([]VecVirtual, blocks)
	for q := range blk {
		blk[q] = YMM()
		VMOVUPS(buf.Offset(32*(blocks*i+q)), blk[q])
	}
	var ph []VecVirtual
	for g := 0; g < blocks; g += 4 {
		ph = append(ph, transposeN(blk[g], blk[g+1], blk[g+2], blk[g+3], min(4, phases-g))...)
	}
	x := make([]VecVirtual, phases)
	for p := range x {
		x[p] = YMM()
		VPERMPS(ph[p], order, x[p])
	}
	return x
}

// sixPlaneRows emits the second half of a planned kernel whose output is
// six rows of six planes: row(i) readies row i's inputs and returns its
// transform, whose outputs k go to planes 6i+k from the pointer
// parameter dst ("plane" floats apart), under the lane mask of the
// parameter "lanes".
func sixPlaneRows(dst string, row func(i int) func(out func(k int, o VecVirtual))) {
	v := Load(Param(dst), GP64())
	plane := Load(Param("plane"), GP64())
	SHLQ(U8(2), plane)
	plane3 := GP64()
	LEAQ(Mem{Base: plane, Index: plane, Scale: 2}, plane3)
	lanes := Load(Param("lanes"), GP64())
	out3 := GP64()
	for i := 0; i < 6; i++ {
		transform := row(i)
		LEAQ(Mem{Base: v, Index: plane3, Scale: 1}, out3)
		transform(func(k int, o VecVirtual) {
			laneStore(o, sixPlanes(v, out3, plane, k), lanes, fmt.Sprintf("%d_%d", i, k))
		})
		if i < 5 {
			LEAQ(Mem{Base: v, Index: plane3, Scale: 2}, v)
		}
	}
}

// laneStore stores o at m: whole, or under the lane mask at lanes if
// lanes is not nil (on a cold path). Its labels end in id.
func laneStore(o VecVirtual, m Mem, lanes Register, id string) {
	laneMove(func(mask VecVirtual) {
		if mask == nil {
			VMOVUPS(o, m)
		} else {
			VMASKMOVPS(o, mask, m)
		}
	}, lanes, "stored_", id)
}

// laneLoad loads m into dst as laneStore stores.
func laneLoad(m Mem, dst VecVirtual, lanes Register, id string) {
	laneMove(func(mask VecVirtual) {
		if mask == nil {
			VMOVUPS(m, dst)
		} else {
			VMASKMOVPS(m, mask, dst)
		}
	}, lanes, "loaded_", id)
}

// laneMove emits move(nil) if lanes is nil, else, on a cold path,
// move(the mask at lanes); done names the label after them.
func laneMove(move func(mask VecVirtual), lanes Register, done, id string) {
	TESTQ(lanes, lanes)
	JNZ(LabelRef("part_" + id))
	move(nil)
	Label(done + id)
	cold = append(cold, func() {
		Label("part_" + id)
		mask := YMM()
		VMOVUPS(Mem{Base: lanes}, mask)
		move(mask)
		JMP(LabelRef(done + id))
	})
}

// advanceParam moves the pointer parameter p on by the parameter stride
// (floats), for the next channel.
func advanceParam(p, stride string) {
	s := Load(Param(stride), GP64())
	SHLQ(U8(2), s)
	r := Load(Param(p), GP64())
	ADDQ(s, r)
	Store(r, Param(p))
}

// nextInputChannel ends a planned input kernel's loop over the channels
// (label "chan"): x and v move on a channel, and the kernel returns after
// the last.
func nextInputChannel(chans Register) {
	advanceParam("x", "xStride")
	advanceParam("v", "vStride")
	DECQ(chans)
	JNZ(LabelRef("chan"))
	ret()
}

// The plans' layouts (nn's wino4InPlan and wino4OutPlan): offsets, then
// mask offsets, then kinds.
const (
	inBlocks  = 6 * 8 // 6 rows of 4 blocks and 4 shifted ones
	outBlocks = 4 * 4 // 4 rows of 4 blocks
)

// wino4InputAVX2 emits the AVX2 input transform of a planned group.
func wino4InputAVX2() {
	TEXT("wino4InAVX2", 0, "func(x *float32, chans, xStride int, v *float32, vStride, plane int, plan *wino4InPlan, masks *[81][8]int32, lanes *int32)") // not NOSPLIT: its frame holds B^T d
	Pragma("noescape")
	Doc("wino4InAVX2 writes V = B^T d B for a planned group of 8 6x6 input tiles",
		"of F(4x4, 3x3) (see wino4InPlan) of chans channels xStride floats apart",
		"in x: element e of lane l of channel c goes to v[e*plane + c*vStride +",
		"l], all 8 lanes or, if lanes is not nil, those it enables (sign bits).")
	buf := AllocLocal(6 * 8 * 32) // B^T d: 6 rows of 8 blocks
	plan := Load(Param("plan"), GP64())
	table := Load(Param("masks"), GP64())
	two, four, _ := avx2Consts()
	order := laneTable([]int32{0, 4, 1, 5, 2, 6, 3, 7}) // 0 2 4 6 1 3 5 7 back to lane order
	wc := loadWholeColumns(plan, inBlocks, 8)
	chans := Load(Param("chans"), GP64())
	Label("chan")
	x := Load(Param("x"), GP64())
	offs, midx, kinds := planFields(plan, inBlocks)
	// B^T d down the rows, block by block.
	plannedColumns(x, kinds, offs, midx, table, buf, 8, 6, wc, func(r []VecVirtual, out func(k int, o VecVirtual)) {
		bt6AVX2([6]VecVirtual(r), two, four, out)
	})
	// Then along each row, the blocks taken apart by phase.
	sixPlaneRows("v", func(i int) func(out func(k int, o VecVirtual)) {
		x := [6]VecVirtual(rowPhases(buf, i, 8, 6, order))
		return func(out func(k int, o VecVirtual)) { bt6AVX2(x, two, four, out) }
	})
	nextInputChannel(chans)
}

// wino4OutputAVX2 emits the AVX2 output transform of a planned group.
func wino4OutputAVX2() {
	TEXT("wino4OutAVX2", 0, "func(y, m *float32, chans, yStride, mStride, plane int, plan *wino4OutPlan, masks *[81][8]int32, lanes *int32, bias *float32, biasStep int, res *float32, relu int)") // not NOSPLIT: its frame holds A^T M
	Pragma("noescape")
	Doc("wino4OutAVX2 writes the 4x4 output tiles A^T M A of a planned group of 8",
		"tiles of F(4x4, 3x3) (see wino4OutPlan) for chans output channels",
		"yStride floats apart in y: element e of lane l of channel k is m[e*plane",
		"+ k*mStride + l], read for all 8 lanes or, if lanes is not nil, those it",
		"enables (sign bits). Each value gets bias[k*biasStep], then res (laid",
		"out like y) if not nil, then the ReLU if relu is 1.")
	buf := AllocLocal(4 * 6 * 32) // A^T M: 4 rows of 6 columns
	plan := Load(Param("plan"), GP64())
	table := Load(Param("masks"), GP64())
	two, four, eight := avx2Consts()
	order := laneTable([]int32{0, 2, 4, 6, 1, 3, 5, 7}) // lane order to 0 2 4 6 1 3 5 7
	// Every value goes through max(floor, v): the ReLU's 0, or -Inf,
	// which leaves every v as it is (a NaN too, being the source taken),
	// so that no block tests relu.
	floor := YMM()
	VXORPS(floor, floor, floor)
	relu := Load(Param("relu"), GP64())
	TESTQ(relu, relu)
	JNZ(LabelRef("floored"))
	ninf, xninf := GP32(), XMM()
	MOVL(U32(0xff800000), ninf)
	VMOVD(ninf, xninf)
	VBROADCASTSS(xninf, floor)
	Label("floored")
	chans := Load(Param("chans"), GP64())
	Label("chan")
	// A^T M down the columns of the tiles, one column j at a time: the
	// loads of a whole group in line, those under the lane mask on a
	// cold path of their own, so that no load tests the mask.
	m := Load(Param("m"), GP64())
	plane := Load(Param("plane"), GP64())
	SHLQ(U8(2), plane)
	lanes := Load(Param("lanes"), GP64())
	p := GP64()
	plane6 := GP64()
	LEAQ(Mem{Base: plane, Index: plane, Scale: 2}, plane6)
	SHLQ(U8(1), plane6)
	columns := func(mask VecVirtual) {
		m := m // the cold path's own walk
		for j := 0; j < 6; j++ {
			MOVQ(m, p)
			var x [6]VecVirtual
			for i := range x {
				x[i] = YMM()
				if mask == nil {
					VMOVUPS(Mem{Base: p}, x[i])
				} else {
					VMASKMOVPS(Mem{Base: p}, mask, x[i])
				}
				if i < 5 {
					ADDQ(plane6, p)
				}
			}
			for i, v := range at6AVX2(x, two, four, eight) {
				VMOVUPS(v, buf.Offset(32*(6*i+j)))
			}
			if j < 5 {
				ADDQ(plane, m)
			}
		}
	}
	TESTQ(lanes, lanes)
	JNZ(LabelRef("partcols"))
	columns(nil)
	Label("rows")
	cold = append(cold, func() {
		Label("partcols")
		mask := YMM()
		VMOVUPS(Mem{Base: lanes}, mask)
		columns(mask)
		JMP(LabelRef("rows"))
	})
	// Then along each row, the four phases interleaved back into blocks
	// of 8 output columns, each stored where the plan says: with res or
	// without, tested once a row.
	y := Load(Param("y"), GP64())
	res := Load(Param("res"), GP64())
	bias := Load(Param("bias"), GP64())
	offs, midx, kinds := planFields(plan, outBlocks)
	b := YMM()
	VBROADCASTSS(Mem{Base: bias}, b) // the channel's bias
	for i := 0; i < 4; i++ {
		var x [6]VecVirtual
		for j := range x {
			x[j] = YMM()
			VMOVUPS(buf.Offset(32*(6*i+j)), x[j])
		}
		o := at6AVX2(x, two, four, eight)
		for q := range o {
			VPERMPS(o[q], order, o[q])
		}
		out := transpose4(o[0], o[1], o[2], o[3])
		for _, v := range out {
			VADDPS(b, v, v)
		}
		TESTQ(res, res)
		JZ(LabelRef(fmt.Sprintf("nores_%d", i)))
		storeOutRow(i, out, y, res, offs, midx, kinds, table, floor)
		JMP(LabelRef(fmt.Sprintf("stored_%d", i)))
		Label(fmt.Sprintf("nores_%d", i))
		storeOutRow(i, out, y, nil, offs, midx, kinds, table, floor)
		Label(fmt.Sprintf("stored_%d", i))
	}
	// The next channel.
	advanceParam("y", "yStride")
	res = Load(Param("res"), GP64())
	TESTQ(res, res)
	JZ(LabelRef("nextm"))
	advanceParam("res", "yStride")
	Label("nextm")
	advanceParam("m", "mStride")
	bs := Load(Param("biasStep"), GP64())
	bias = Load(Param("bias"), GP64())
	LEAQ(Mem{Base: bias, Index: bs, Scale: 4}, bias)
	Store(bias, Param("bias"))
	DECQ(chans)
	JNZ(LabelRef("chan"))
	ret()
}

// storeOutRow stores row i's four blocks of an output transform, biased,
// where the plan says (4i+q for block q): plus res, if not nil, then
// max(floor, v). A whole block in line, the others on a cold path.
func storeOutRow(i int, out [4]VecVirtual, y, res, offs, midx, kinds, table Register, floor VecVirtual) {
	for q, v := range out {
		at := 4*i + q
		id := fmt.Sprintf("%d_%d_%v", i, q, res != nil)
		off := GP64()
		CMPB(Mem{Base: kinds, Disp: at}, U8(1))
		JNE(LabelRef("other_" + id))
		MOVQ(Mem{Base: offs, Disp: 8 * at}, off)
		if res != nil {
			VADDPS(Mem{Base: res, Index: off, Scale: 1}, v, v)
		}
		VMAXPS(v, floor, v) // the tile is the source a NaN comes from, as in Go's max
		VMOVUPS(v, Mem{Base: y, Index: off, Scale: 1})
		Label("done_" + id)
		// Nothing to store (kind 0), or a block under its mask.
		cold = append(cold, func() {
			Label("other_" + id)
			CMPB(Mem{Base: kinds, Disp: at}, U8(0))
			JEQ(LabelRef("done_" + id))
			off, mi := GP64(), GP64()
			MOVQ(Mem{Base: offs, Disp: 8 * at}, off)
			MOVLQSX(Mem{Base: midx, Disp: 4 * at}, mi)
			mask := YMM()
			VMOVUPS(Mem{Base: table, Index: mi, Scale: 1}, mask)
			if res != nil {
				t := YMM()
				VMASKMOVPS(Mem{Base: res, Index: off, Scale: 1}, mask, t)
				VADDPS(t, v, v)
			}
			VMAXPS(v, floor, v)
			VMASKMOVPS(v, mask, Mem{Base: y, Index: off, Scale: 1})
			JMP(LabelRef("done_" + id))
		})
	}
}

// label names a label of the whole or the masked group.
func label(s string, masked bool) string {
	if masked {
		return s + "_m"
	}
	return s + "_w"
}

// winoInputS2AVX2 emits the stride-2 Winograd's AVX2 input transform of
// a planned group, as wino4InputAVX2 takes F(4x4, 3x3)'s: 5x5 windows at
// stride 4, so a block of 8 columns is two neighbouring tiles, and column
// 4 of each tile comes from the second load 4 columns on. As the Go
// transform does, d B goes along the rows first, then B^T down the
// columns.
func winoInputS2AVX2() {
	TEXT("winoS2InAVX2", 0, "func(x *float32, chans, xStride int, v *float32, vStride, plane int, plan *winoS2InPlan, masks *[81][8]int32, lanes *int32)") // not NOSPLIT: its frame holds d B
	Pragma("noescape")
	Doc("winoS2InAVX2 writes V = B^T d B for a planned group of 8 5x5 input tiles",
		"of a stride-2 convolution (see winoS2InPlan) of chans channels xStride",
		"floats apart in x: element e of lane l of channel c goes to v[e*plane +",
		"c*vStride + l], all 8 lanes or, if lanes is not nil, those it enables",
		"(sign bits).")
	buf := AllocLocal(5 * 5 * 32) // d B: 5 rows of 5 columns
	plan := Load(Param("plan"), GP64())
	table := Load(Param("masks"), GP64())
	order := laneTable([]int32{0, 4, 1, 5, 2, 6, 3, 7}) // 0 2 4 6 1 3 5 7 back to lane order
	chans := Load(Param("chans"), GP64())
	Label("chan")
	x := Load(Param("x"), GP64())
	offs, midx, kinds := planFields(plan, 40)
	// d B along each row: the blocks taken apart by phase.
	for r := 0; r < 5; r++ {
		var blk [4]VecVirtual
		for q := range blk {
			blk[q] = YMM()
			blockLoad(x, kinds, offs, midx, table, 8*r+q, blk[q], fmt.Sprintf("s2_%d_%d", r, q))
		}
		ph := transpose4(blk[0], blk[1], blk[2], blk[3])
		var d [5]VecVirtual
		for p := range ph {
			d[p] = YMM()
			VPERMPS(ph[p], order, d[p])
		}
		var nb [4]VecVirtual
		for q := range nb {
			nb[q] = YMM()
			blockLoad(x, kinds, offs, midx, table, 8*r+4+q, nb[q], fmt.Sprintf("s2n_%d_%d", r, q))
		}
		nx := transposeN(nb[0], nb[1], nb[2], nb[3], 1)
		d[4] = YMM()
		VPERMPS(nx[0], order, d[4])
		for j, o := range bt5AVX2(d) {
			VMOVUPS(o, buf.Offset(32*(5*r+j)))
		}
	}
	// Then B^T down the columns: element (i, j) at v + (5i+j)*plane.
	v := Load(Param("v"), GP64())
	plane := Load(Param("plane"), GP64())
	SHLQ(U8(2), plane)
	plane5 := GP64()
	LEAQ(Mem{Base: plane, Index: plane, Scale: 4}, plane5)
	lanes := Load(Param("lanes"), GP64())
	p := GP64()
	for j := 0; j < 5; j++ {
		var c [5]VecVirtual
		for r := range c {
			c[r] = YMM()
			VMOVUPS(buf.Offset(32*(5*r+j)), c[r])
		}
		MOVQ(v, p)
		for i, o := range bt5AVX2(c) {
			laneStore(o, Mem{Base: p}, lanes, fmt.Sprintf("s2_%d_%d", j, i))
			if i < 4 {
				ADDQ(plane5, p)
			}
		}
		if j < 4 {
			ADDQ(plane, v)
		}
	}
	nextInputChannel(chans)
}

// bt5AVX2 emits the stride-2 B^T applied to x: x0 - x2, x2, x4 - x2, x1,
// x3.
func bt5AVX2(x [5]VecVirtual) [5]VecVirtual {
	a, b := YMM(), YMM()
	VSUBPS(x[2], x[0], a)
	VSUBPS(x[2], x[4], b)
	return [5]VecVirtual{a, x[2], b, x[1], x[3]}
}

// winoOut2AVX2 emits an AVX2 output transform to 2x2 tiles, of the
// stride-2 Winograd (n 5) or of F(2x2, 3x3) (n 4), for one tile row of
// one output channel: a group's row is 16 columns, its two phases
// interleaved. at is A^T on n values: two sums, in the Go transform's
// order; it goes down the columns first, then along the rows.
func winoOut2AVX2(name, what string, n int, at func(x []VecVirtual) (VecVirtual, VecVirtual)) {
	TEXT(name, NOSPLIT, "func(y, m *float32, plane, ldy, rows, groups int, lanes, cols *int32, bias, res *float32, relu int)")
	Pragma("noescape")
	Doc(name+" writes the 2x2 output tiles A^T M A of one tile row of",
		"one output channel of "+what+", 8 tiles a group: element",
		"e of tile t is m[e*plane + t], and row i of tile t goes to",
		"y[i*ldy + 2t:][:2] for rows i < rows, plus *bias, plus res (laid out",
		"like y) if not nil, then the ReLU if relu is 1. The first groups groups",
		"are whole; lanes, if not nil, enables (sign bits) the tiles of one more",
		"group, and cols its 16 output columns.")
	y := Load(Param("y"), GP64())
	m := Load(Param("m"), GP64())
	plane := Load(Param("plane"), GP64())
	SHLQ(U8(2), plane)
	ldy := Load(Param("ldy"), GP64())
	SHLQ(U8(2), ldy)
	ng := Load(Param("groups"), GP64())
	planeN := GP64() // n elements: the next row of the tile
	if n == 5 {
		LEAQ(Mem{Base: plane, Index: plane, Scale: 4}, planeN)
	} else {
		MOVQ(plane, planeN)
		SHLQ(U8(2), planeN)
	}
	group := func(masked bool) {
		var mask VecVirtual
		if masked {
			lanes := Load(Param("lanes"), GP64())
			mask = YMM()
			VMOVUPS(Mem{Base: lanes}, mask)
		}
		// A^T M down the columns: a[i][j] for rows i 0 and 1.
		a := [2][]VecVirtual{make([]VecVirtual, n), make([]VecVirtual, n)}
		p := GP64()
		for j := 0; j < n; j++ {
			MOVQ(m, p)
			for range j {
				ADDQ(plane, p)
			}
			e := make([]VecVirtual, n)
			for i := range e {
				e[i] = YMM()
				if masked {
					VMASKMOVPS(Mem{Base: p}, mask, e[i])
				} else {
					VMOVUPS(Mem{Base: p}, e[i])
				}
				if i < n-1 {
					ADDQ(planeN, p)
				}
			}
			a[0][j], a[1][j] = at(e)
		}
		rows := Load(Param("rows"), GP64())
		res := Load(Param("res"), GP64())
		yr := GP64()
		MOVQ(y, yr)
		for i := 0; i < 2; i++ {
			if i > 0 {
				CMPQ(rows, U8(1))
				JBE(LabelRef(label("rowsdone", masked)))
			}
			q0, q1 := at(a[i])
			lo, hi := YMM(), YMM()
			VUNPCKLPS(q1, q0, lo) // tiles 0 1 | 4 5
			VUNPCKHPS(q1, q0, hi) // tiles 2 3 | 6 7
			out := [2]VecVirtual{YMM(), YMM()}
			VPERM2F128(U8(0x20), hi, lo, out[0])
			VPERM2F128(U8(0x31), hi, lo, out[1])
			bias := Load(Param("bias"), GP64())
			b := YMM()
			VBROADCASTSS(Mem{Base: bias}, b)
			for _, v := range out {
				VADDPS(b, v, v)
			}
			colMask := func(q int) VecVirtual {
				cols := Load(Param("cols"), GP64())
				cm := YMM()
				VMOVUPS(Mem{Base: cols, Disp: 32 * q}, cm)
				return cm
			}
			hasRes := Load(Param("res"), GP64())
			TESTQ(hasRes, hasRes)
			JZ(LabelRef(label("nores", masked) + string(rune('0'+i))))
			for q, v := range out {
				t := YMM()
				if masked {
					VMASKMOVPS(Mem{Base: res, Disp: 32 * q}, colMask(q), t)
				} else {
					VMOVUPS(Mem{Base: res, Disp: 32 * q}, t)
				}
				VADDPS(t, v, v)
			}
			Label(label("nores", masked) + string(rune('0'+i)))
			relu := Load(Param("relu"), GP64())
			TESTQ(relu, relu)
			JZ(LabelRef(label("norelu", masked) + string(rune('0'+i))))
			z := YMM()
			VXORPS(z, z, z)
			for _, v := range out {
				VMAXPS(v, z, v)
			}
			Label(label("norelu", masked) + string(rune('0'+i)))
			for q, v := range out {
				if masked {
					VMASKMOVPS(v, colMask(q), Mem{Base: yr, Disp: 32 * q})
				} else {
					VMOVUPS(v, Mem{Base: yr, Disp: 32 * q})
				}
			}
			if i < 1 {
				ADDQ(ldy, yr)
				ADDQ(ldy, res)
			}
		}
		Label(label("rowsdone", masked))
	}
	TESTQ(ng, ng)
	JZ(LabelRef("tail"))
	Label("group")
	group(false)
	ADDQ(U8(32), m)
	ADDQ(U8(64), y)
	res := Load(Param("res"), GP64())
	TESTQ(res, res)
	JZ(LabelRef("nextgroup"))
	ADDQ(U8(64), res)
	Store(res, Param("res"))
	Label("nextgroup")
	DECQ(ng)
	JNZ(LabelRef("group"))
	Label("tail")
	lanes := Load(Param("lanes"), GP64())
	TESTQ(lanes, lanes)
	JZ(LabelRef("done"))
	group(true)
	Label("done")
	ret()
}

// winoOutputS2AVX2 emits the stride-2 Winograd's output transform.
func winoOutputS2AVX2() {
	winoOut2AVX2("winoS2OutAVX2", "a stride-2 convolution", 5, func(x []VecVirtual) (VecVirtual, VecVirtual) {
		a0, a1 := YMM(), YMM()
		VADDPS(x[1], x[0], a0)
		VADDPS(x[3], a0, a0) // (x0 + x1) + x3
		VADDPS(x[2], x[1], a1)
		VADDPS(x[4], a1, a1) // (x1 + x2) + x4
		return a0, a1
	})
}

// winoOutputF2AVX2 emits F(2x2, 3x3)'s output transform.
func winoOutputF2AVX2() {
	winoOut2AVX2("winoF2OutAVX2", "F(2x2, 3x3)", 4, func(x []VecVirtual) (VecVirtual, VecVirtual) {
		a0, a1 := YMM(), YMM()
		VADDPS(x[1], x[0], a0)
		VADDPS(x[2], a0, a0) // (x0 + x1) + x2
		VSUBPS(x[2], x[1], a1)
		VSUBPS(x[3], a1, a1) // (x1 - x2) - x3
		return a0, a1
	})
}

// winoInputF2AVX2 emits F(2x2, 3x3)'s AVX2 input transform of a planned
// group, as wino4InputAVX2 takes F(4x4, 3x3)'s: 4x4 windows at stride 2,
// so a block of 8 columns is four neighbouring tiles of one tile row, a
// group two blocks, and columns 2 and 3 of each tile come from a second
// load of each block 2 columns on. The even and odd columns come apart
// by in-half shuffles and a permute. As the Go transform does, B^T goes
// down the columns first.
func winoInputF2AVX2() {
	TEXT("winoF2InAVX2", 0, "func(x *float32, chans, xStride int, v *float32, vStride, plane int, plan *winoF2InPlan, masks *[81][8]int32, lanes *int32)") // not NOSPLIT: its frame holds B^T d
	Pragma("noescape")
	Doc("winoF2InAVX2 writes V = B^T d B for a planned group of 8 4x4 input tiles",
		"of F(2x2, 3x3) (see winoF2InPlan) of chans channels xStride floats",
		"apart in x: element e of lane l of channel c goes to v[e*plane +",
		"c*vStride + l], all 8 lanes or, if lanes is not nil, those it enables",
		"(sign bits).")
	buf := AllocLocal(4 * 4 * 32) // B^T d: 4 rows of 4 blocks
	plan := Load(Param("plan"), GP64())
	table := Load(Param("masks"), GP64())
	order := laneTable([]int32{0, 1, 4, 5, 2, 3, 6, 7}) // 0 1 4 5 2 3 6 7 back to lane order
	wc := loadWholeColumns(plan, 16, 4)
	chans := Load(Param("chans"), GP64())
	Label("chan")
	x := Load(Param("x"), GP64())
	offs, midx, kinds := planFields(plan, 16)
	plannedColumns(x, kinds, offs, midx, table, buf, 4, 4, wc, func(r []VecVirtual, out func(k int, o VecVirtual)) {
		for k, o := range bt4AVX2([4]VecVirtual(r)) {
			out(k, o)
		}
	})
	v := Load(Param("v"), GP64())
	plane := Load(Param("plane"), GP64())
	SHLQ(U8(2), plane)
	plane3 := GP64()
	LEAQ(Mem{Base: plane, Index: plane, Scale: 2}, plane3)
	lanes := Load(Param("lanes"), GP64())
	for i := 0; i < 4; i++ {
		var x [4]VecVirtual
		for s := 0; s < 2; s++ { // the blocks, then the ones 2 columns on
			a, b := YMM(), YMM()
			VMOVUPS(buf.Offset(32*(4*i+2*s)), a)
			VMOVUPS(buf.Offset(32*(4*i+2*s+1)), b)
			for p, imm := range []uint8{0x88, 0xdd} {
				t := YMM()
				VSHUFPS(U8(imm), b, a, t)
				x[2*s+p] = YMM()
				VPERMPS(t, order, x[2*s+p])
			}
		}
		for k, o := range bt4AVX2(x) {
			m := []Mem{{Base: v}, {Base: v, Index: plane, Scale: 1}, {Base: v, Index: plane, Scale: 2}, {Base: v, Index: plane3, Scale: 1}}[k]
			laneStore(o, m, lanes, fmt.Sprintf("f2_%d_%d", i, k))
		}
		if i < 3 {
			LEAQ(Mem{Base: v, Index: plane, Scale: 4}, v)
		}
	}
	nextInputChannel(chans)
}

// bt4AVX2 emits F(2x2, 3x3)'s B^T applied to x: x0 - x2, x1 + x2, x2 - x1,
// x1 - x3.
func bt4AVX2(x [4]VecVirtual) [4]VecVirtual {
	var o [4]VecVirtual
	for i := range o {
		o[i] = YMM()
	}
	VSUBPS(x[2], x[0], o[0])
	VADDPS(x[2], x[1], o[1])
	VSUBPS(x[1], x[2], o[2])
	VSUBPS(x[3], x[1], o[3])
	return o
}

// winoDyF2AVX2 emits F(2x2, 3x3)'s AVX2 transform of dy for the weight
// gradient (nn's winoDyGo) for one tile row of one output channel: 2x2
// tiles of dy, 8 a group, taken apart into even and odd columns as the
// input transform's are; G down the columns first, then along the rows.
func winoDyF2AVX2() {
	TEXT("winoF2DyAVX2", NOSPLIT, "func(dy *float32, ldy, rows int, u *float32, plane, groups int, lanes, cols *int32)")
	Pragma("noescape")
	Doc("winoF2DyAVX2 writes the transforms of the 2x2 tiles of one tile row of",
		"dy (rows rows, 1 or 2, ldy floats apart), 8 tiles a group: element e of",
		"tile t goes to u[e*plane + t]. The first groups groups are whole; lanes,",
		"if not nil, enables (sign bits) the tiles of one more group, and cols",
		"its 16 columns of dy.")
	dy := Load(Param("dy"), GP64())
	ldy := Load(Param("ldy"), GP64())
	SHLQ(U8(2), ldy)
	u := Load(Param("u"), GP64())
	plane := Load(Param("plane"), GP64())
	SHLQ(U8(2), plane)
	n := Load(Param("groups"), GP64())
	order := laneTable([]int32{0, 1, 4, 5, 2, 3, 6, 7})
	bcast := func(bits uint32) VecVirtual {
		t, x, y := GP32(), XMM(), YMM()
		MOVL(U32(bits), t)
		VMOVD(t, x)
		VBROADCASTSS(x, y)
		return y
	}
	half, sign := bcast(0x3f000000), bcast(0x80000000) // 0.5, and the sign bit that negates as Go's -x does
	plane3 := GP64()
	LEAQ(Mem{Base: plane, Index: plane, Scale: 2}, plane3)
	group := func(masked bool) {
		var cm [2]VecVirtual
		var mask VecVirtual
		if masked {
			cols := Load(Param("cols"), GP64())
			for h := range cm {
				cm[h] = YMM()
				VMOVUPS(Mem{Base: cols, Disp: 32 * h}, cm[h])
			}
			lanes := Load(Param("lanes"), GP64())
			mask = YMM()
			VMOVUPS(Mem{Base: lanes}, mask)
		}
		// g[a][j]: row a of the tiles, column j (even, odd).
		var g [2][2]VecVirtual
		rows := Load(Param("rows"), GP64())
		for a := 0; a < 2; a++ {
			var blk [2]VecVirtual
			for h := range blk {
				blk[h] = YMM()
				VXORPS(blk[h], blk[h], blk[h])
			}
			if a == 1 {
				CMPQ(rows, U8(1))
				JBE(LabelRef(label("onerow", masked)))
			}
			for h := range blk {
				m := Mem{Base: dy, Disp: 32 * h}
				if a == 1 {
					m = Mem{Base: dy, Index: ldy, Scale: 1, Disp: 32 * h}
				}
				if masked {
					VMASKMOVPS(m, cm[h], blk[h])
				} else {
					VMOVUPS(m, blk[h])
				}
			}
			if a == 1 {
				Label(label("onerow", masked))
			}
			for j, imm := range []uint8{0x88, 0xdd} {
				t := YMM()
				VSHUFPS(U8(imm), blk[1], blk[0], t)
				g[a][j] = YMM()
				VPERMPS(t, order, g[a][j])
			}
		}
		// G down the columns: t[i][j] = g0, (g0+g1)*0.5, (g0-g1)*0.5, -g1.
		gt := func(g0, g1 VecVirtual) [4]VecVirtual {
			var o [4]VecVirtual
			for i := range o {
				o[i] = YMM()
			}
			VMOVAPS(g0, o[0])
			VADDPS(g1, g0, o[1])
			VMULPS(half, o[1], o[1])
			VSUBPS(g1, g0, o[2])
			VMULPS(half, o[2], o[2])
			VXORPS(sign, g1, o[3])
			return o
		}
		c0, c1 := gt(g[0][0], g[1][0]), gt(g[0][1], g[1][1])
		out := GP64()
		MOVQ(u, out)
		for i := 0; i < 4; i++ {
			for k, o := range gt(c0[i], c1[i]) {
				m := []Mem{{Base: out}, {Base: out, Index: plane, Scale: 1}, {Base: out, Index: plane, Scale: 2}, {Base: out, Index: plane3, Scale: 1}}[k]
				if masked {
					VMASKMOVPS(o, mask, m)
				} else {
					VMOVUPS(o, m)
				}
			}
			if i < 3 {
				LEAQ(Mem{Base: out, Index: plane, Scale: 4}, out)
			}
		}
	}
	TESTQ(n, n)
	JZ(LabelRef("tail"))
	Label("group")
	group(false)
	ADDQ(U8(64), dy)
	ADDQ(U8(32), u)
	DECQ(n)
	JNZ(LabelRef("group"))
	Label("tail")
	lanes := Load(Param("lanes"), GP64())
	TESTQ(lanes, lanes)
	JZ(LabelRef("done"))
	group(true)
	Label("done")
	ret()
}

// a6AVX2 emits A applied to g (F(4x4, 3x3)'s A^T transposed), as nn's a6
// orders it, handing each output to out.
func a6AVX2(g [4]VecVirtual, two, four VecVirtual, out func(k int, v VecVirtual)) {
	e1, o1, e2, h := YMM(), YMM(), YMM(), YMM()
	VADDPS(g[2], g[0], e1)
	VADDPS(g[3], g[1], o1)
	VMOVAPS(g[0], e2)
	VFMADD231PS(g[2], four, e2) // g0 + 4 g2
	VMOVAPS(g[1], h)
	VFMADD231PS(g[3], four, h) // g1 + 4 g3
	out(0, g[0])
	o := YMM()
	VADDPS(o1, e1, o)
	out(1, o)
	o = YMM()
	VSUBPS(o1, e1, o)
	out(2, o)
	o = YMM()
	VMOVAPS(e2, o)
	VFMADD231PS(h, two, o) // e2 + 2 h
	out(3, o)
	o = YMM()
	VMOVAPS(e2, o)
	VFNMADD231PS(h, two, o) // e2 - 2 h
	out(4, o)
	out(5, g[3])
}

// wino4DyAVX2Kernel emits the AVX2 transform of dy's 4x4 tiles for the
// weight gradient by F(3x3, 4x4), a planned group of 8 tiles: a tile's 4
// columns are half a block, so a block is two tiles whole and nothing is
// loaded twice.
func wino4DyAVX2Kernel() {
	TEXT("wino4DyAVX2", 0, "func(dy *float32, chans, dyStride int, u *float32, uStride, plane int, plan *wino4OutPlan, masks *[81][8]int32, lanes *int32)") // not NOSPLIT: its frame holds A g
	Pragma("noescape")
	Doc("wino4DyAVX2 writes U = A g A^T for a planned group of 8 4x4 tiles g of",
		"dy (see wino4OutPlan) of chans channels dyStride floats apart: element e",
		"of lane l of channel k goes to u[e*plane + k*uStride + l], all 8 lanes",
		"or, if lanes is not nil, those it enables (sign bits).")
	buf := AllocLocal(6 * 4 * 32) // A g: 6 rows of 4 blocks
	plan := Load(Param("plan"), GP64())
	table := Load(Param("masks"), GP64())
	two, four, _ := avx2Consts()
	order := laneTable([]int32{0, 4, 1, 5, 2, 6, 3, 7}) // 0 2 4 6 1 3 5 7 back to lane order
	wc := loadWholeColumns(plan, outBlocks, 4)
	chans := Load(Param("chans"), GP64())
	Label("chan")
	dy := Load(Param("dy"), GP64())
	offs, midx, kinds := planFields(plan, outBlocks) // dy is shaped as the output
	// A g down the columns, block by block.
	plannedColumns(dy, kinds, offs, midx, table, buf, 4, 4, wc, func(r []VecVirtual, out func(k int, o VecVirtual)) {
		a6AVX2([4]VecVirtual(r), two, four, out)
	})
	// Then along each row, the blocks taken apart by phase.
	sixPlaneRows("u", func(i int) func(out func(k int, o VecVirtual)) {
		x := [4]VecVirtual(rowPhases(buf, i, 4, 4, order))
		return func(out func(k int, o VecVirtual)) { a6AVX2(x, two, four, out) }
	})
	advanceParam("dy", "dyStride")
	advanceParam("u", "uStride")
	DECQ(chans)
	JNZ(LabelRef("chan"))
	ret()
}
