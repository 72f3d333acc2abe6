package nn

import "iter"

// Winograd F(4x4, 3x3): 6x6 input tiles at stride 4, 36 multiplies per 4x4
// output tile and channel pair where F(2x2, 3x3) takes 64 and a direct
// convolution 144. The price is larger transforms and larger rounding
// errors (its matrices hold 4, 5 and 8): it is used where the GEMMs
// dominate, and the PyTorch comparisons bound its error.
//
//	B^T = [4  0 -5  0 1 0]    G = [ 1/4     0    0]   A^T = [1 1  1 1  1 0]
//	      [0 -4 -4  1 1 0]        [-1/6 -1/6 -1/6]         [0 1 -1 2 -2 0]
//	      [0  4 -4 -1 1 0]        [-1/6  1/6 -1/6]         [0 1  1 4  4 0]
//	      [0 -2 -1  2 1 0]        [1/24 1/12  1/6]         [0 1 -1 8 -8 1]
//	      [0  2 -1 -2 1 0]        [1/24 -1/12 1/6]
//	      [0  4  0 -5 0 1]        [   0     0    1]
//
// Every multiply in B^T and A^T is by a power of two, exact in float32, so
// the transforms below give the same bits whether or not a multiply and an
// add are fused: the Go and the assembly transforms agree exactly.

// winoWeights4 writes U = G g G^T of filters [from, to) of the n 3x3
// filters of w to u[e*n+i] for element e (of 36) of filter i, computed in
// float64 and rounded once. G's rows come in pairs that share their sums (g0 + g2,
// then g1 added or taken away), which take 10 operations a column where
// the plain product takes 18: training transforms its weights on every
// step, and 64 x 64 filters took 0.58 ms by the plain product.
func winoWeights4(u, w []float32, n, from, to int) {
	// gRows is G applied to one column (or row) of three values.
	// Multiplies by the reciprocals, not divisions, which take several
	// times as long: their float64 rounding is far below float32's.
	const sixth, twelfth, twentyFourth = 1.0 / 6, 1.0 / 12, 1.0 / 24
	gRows := func(g0, g1, g2 float64) (o [6]float64) {
		a, b, h := g0+g2, g0*twentyFourth+g2*sixth, g1*twelfth
		o[0] = g0 * 0.25
		o[1], o[2] = -(a+g1)*sixth, -(a-g1)*sixth
		o[3], o[4] = b+h, b-h
		o[5] = g2
		return o
	}
	// 16 filters at a time into buf, then each element's 16 values in one
	// run: U's 36 matrices lie n floats apart, and a value at a time into
	// each, when n is a power of two, thrashed the cache sets they share.
	var buf [36][16]float32
	for i0 := from; i0 < to; i0 += 16 {
		m := min(16, to-i0)
		for j := range m {
			g := w[9*(i0+j) : 9*(i0+j)+9 : 9*(i0+j)+9]
			// G g down the columns, then (G g) G^T along each row.
			c0 := gRows(float64(g[0]), float64(g[3]), float64(g[6]))
			c1 := gRows(float64(g[1]), float64(g[4]), float64(g[7]))
			c2 := gRows(float64(g[2]), float64(g[5]), float64(g[8]))
			for r := range 6 {
				o := gRows(c0[r], c1[r], c2[r])
				b := buf[6*r : 6*r+6 : 6*r+6]
				b[0][j], b[1][j], b[2][j] = float32(o[0]), float32(o[1]), float32(o[2])
				b[3][j], b[4][j], b[5][j] = float32(o[3]), float32(o[4]), float32(o[5])
			}
		}
		for e := range buf {
			copy(u[e*n+i0:e*n+i0+m], buf[e][:m])
		}
	}
}

// bt6 is B^T applied to six values, in the order of operations the
// assembly uses.
func bt6(x0, x1, x2, x3, x4, x5 float32) (o [6]float32) {
	s, t := x4-4*x2, x3-4*x1
	u, v := x4-x2, x3-x1
	w := x5 - 4*x3
	o[0] = (s - x2) + 4*x0
	o[1], o[2] = s+t, s-t
	o[3], o[4] = u+2*v, u-2*v
	o[5] = (w - x3) + 4*x1
	return o
}

// at6 is A^T applied to six values, in the assembly's order.
func at6(m0, m1, m2, m3, m4, m5 float32) (o [4]float32) {
	s1, d1 := m1+m2, m1-m2
	s2, d2 := m3+m4, m3-m4
	o[0] = (m0 + s1) + s2
	o[1] = d1 + 2*d2
	o[2] = s1 + 4*s2
	o[3] = (m5 + d1) + 8*d2
	return o
}

// winoInput4 is winoInput for F(4x4, 3x3) over a whole pass: V = B^T d B
// of the 6x6 input tiles d of tile rows [ty0, ty1) of the imgs images of
// x, 36 matrices V_e, the tiles in columns from 0 in order. A call of the
// kernel may take tile rows of two images, so that small images too fill
// its lanes.
func winoInput4(v []float32, l winoLayout, plane int, x []float32, imgs, ty0, ty1 int, d ConvDims) {
	in := d.C * d.H * d.W
	_, tw := d.tiles()
	if !useWinoAsm && useWinoAVX2 && l.width == plainLayout(0).width {
		winoInput4AVX2(v, l.row, plane, x, imgs, ty0, ty1, d)
		return
	}
	if !useWinoAsm {
		for i := range imgs {
			winoInput4Go(v, l, plane, i*(ty1-ty0)*tw, x[i*in:(i+1)*in], ty0, ty1, d)
		}
		return
	}
	groups := wino4Groups(tw)
	perm := &wino4PermsFor(tw).in
	var p wino4Plan
	for c := range wino4Calls(tw, imgs*(ty1-ty0)) {
		p = wino4Plan{}
		from := 4*c.tx0 - d.Pad
		// Past the windows: the last tile's columns 4 and 5, where the
		// call's groups fill their lanes.
		past := c.lanes == 16
		if groups > 1 {
			past = tw == 16/groups
		}
		// inside: some float past the windows is in the image. Else the
		// kernel loads none of them (store[3] 0): they are 0.
		inside := false
		// Group g's window starts at input row top[g] of the image at
		// x[img[g]*in].
		var top, img [8]int
		for g := range c.groups {
			img[g] = (c.row + g) / (ty1 - ty0)
			top[g] = 4*(ty0+(c.row+g)%(ty1-ty0)) - d.Pad
		}
		for r := range 6 {
			// row is where group g's input row r starts in x, if inside.
			row := func(g int) (int, bool) {
				y := top[g] + r
				return img[g]*in + y*d.W, g < c.groups && y >= 0 && y < d.H
			}
			for k := range 8 {
				g, off, lanes, part := wino4Part(groups, k)
				if at, ok := row(g); part && ok {
					p.off[r][k] = int64(4 * (at + from + off))
					p.mask[r][k] = laneMask(from+off, d.W) & lanes
				}
			}
			for g := range groups {
				at, ok := row(g)
				if !past || !ok {
					continue
				}
				x, lanes := from+64, uint16(3)
				if groups > 1 {
					x, lanes = from+4*(16/groups)-2*g, 3<<(2*g)
				}
				p.off[r][wino4Past(groups)+g] = int64(4 * (at + x))
				p.mask[r][wino4Past(groups)+g] = laneMask(x, d.W) & lanes
				inside = inside || p.mask[r][wino4Past(groups)+g] != 0
			}
		}
		col := c.row*tw + c.tx0
		var split int
		p.store[0], p.store[1], split = l.stores(col, c.lanes)
		if past {
			for g := range c.groups {
				p.store[2] |= 1 << (g*min(tw, 16) + min(tw, 16) - 1)
			}
			if inside {
				p.store[3] = 1
			}
		}
		vp, xp := &v[l.at(0, col)], &x[0]
		switch groups {
		case 1:
			wino4InputG1AVX512(vp, xp, d.C, d.H*d.W, l.row, plane, &p, perm, split)
		case 2:
			wino4InputG2AVX512(vp, xp, d.C, d.H*d.W, l.row, plane, &p, perm, split)
		case 4:
			wino4InputG4AVX512(vp, xp, d.C, d.H*d.W, l.row, plane, &p, perm, split)
		default:
			wino4InputG8AVX512(vp, xp, d.C, d.H*d.W, l.row, plane, &p, perm, split)
		}
	}
}

// wino4Plan is one call of an F(4x4, 3x3) transform kernel: which tiles
// it stores (store[0]; store[1] those that run over into the next packed
// panel; store[2] those whose last two columns lie past the windows, and
// store[3] 1 if any of those columns is inside the image) or,
// for the output, loads (store[0]); and the byte offset and lane mask of
// load k of input row r (off[r][k], mask[r][k]), or of store k of output
// row i: loads (stores) 0 to 7 fill the four chunks (wino4Part), those
// from wino4Past on the floats past each group's window. A zero mask
// reads zeros (a row in the padding, a group the call does not have) and
// writes nothing.
type wino4Plan struct {
	store [4]uint16
	off   [6][16]int64
	mask  [6][16]uint16
}

// wino4Groups is how many tile rows of tw tiles share a call of the
// F(4x4, 3x3) kernels: 16 tiles of one row, or two (four, eight) rows of
// up to 8 (4, 2) tiles, each in a window of two chunks (one, half of
// one). Eight rows of 8x8 images fill the lanes that four rows left half
// empty: the CIFAR nets' last stage, and its gradients in training.
func wino4Groups(tw int) int {
	switch {
	case tw > 8:
		return 1
	case tw > 4:
		return 2
	case tw > 2:
		return 4
	}
	return 8
}

// wino4Past is the first load (store) of a row that fills the floats
// past the groups' windows.
func wino4Past(groups int) int {
	if groups == 8 {
		return 8
	}
	return 4
}

// wino4Part is part k (0 to 7) of a call's four chunks: it holds group
// g's window from column off of the window on, in the lanes of mask; ok
// is false for a part the grouping does not have. A chunk is one part,
// except with eight groups, whose two halves hold a window each: the
// upper half's part reads from 8 floats before its window.
func wino4Part(groups, k int) (g, off int, lanes uint16, ok bool) {
	if groups == 8 {
		return k, -8 * (k % 2), 0xff << (8 * (k % 2)), true
	}
	if k >= 4 {
		return 0, 0, 0, false
	}
	switch groups {
	case 1:
		return 0, 16 * k, 0xffff, true
	case 2:
		return k / 2, 16 * (k % 2), 0xffff, true
	}
	return k, 0, 0xffff, true
}

// wino4Call is one call of the F(4x4, 3x3) kernels: lanes tiles from tile
// tx0 of groups tile rows from row, counting a pass's tile rows image
// after image.
type wino4Call struct{ row, tx0, groups, lanes int }

// wino4Calls yields the calls over rows tile rows of tw tiles.
func wino4Calls(tw, rows int) iter.Seq[wino4Call] {
	return func(yield func(wino4Call) bool) {
		if g := wino4Groups(tw); g > 1 {
			for r := 0; r < rows; r += g {
				n := min(g, rows-r)
				if !yield(wino4Call{row: r, groups: n, lanes: n * tw}) {
					return
				}
			}
			return
		}
		for r := range rows {
			for tx0 := 0; tx0 < tw; tx0 += 16 {
				if !yield(wino4Call{row: r, tx0: tx0, groups: 1, lanes: min(16, tw-tx0)}) {
					return
				}
			}
		}
	}
}

// wino4Perm holds the permutes of the F(4x4, 3x3) kernels for one
// grouping. A pair of chunks holds eight tile slots of four floats; the
// first-level permutes take phases 0 and 1 (A) and 2 and 3 (B) of the
// slots of chunks 0 and 1 (2 and 3: A', B'), and the second level packs
// each phase's tiles in lane order from A and A' (B and B'). The input's
// in[0:2] are the first level, in[2:4] the second for the even and odd
// phase, in[4:6] the next slot's phases 0 and 1 (columns 4 and 5), in[6:8]
// where those are in the register of the floats past the windows. The
// output's out[0:2] gather A and A' from phases 0 and 1 (and B, B' from 2
// and 3), out[2:4] interleave chunks 0 and 1 (2 and 3) from A and B (A'
// and B').
type wino4Perm struct {
	in  [8][16]int32
	out [4][16]int32
}

// wino4PermsByWidth are the permutes for tw tiles a row, 1 to 16 (wider
// rows take the 16-tile permutes), made once.
var wino4PermsByWidth = func() (p [17]wino4Perm) {
	for tw := 1; tw <= 16; tw++ {
		p[tw] = newWino4Perm(wino4Groups(tw), tw)
	}
	return p
}()

func wino4PermsFor(tw int) *wino4Perm { return &wino4PermsByWidth[min(tw, 16)] }

func newWino4Perm(groups, tw int) (p wino4Perm) {
	per := 16 / groups // lanes (slots) a group has
	if groups == 1 {
		tw = 16
	}
	// slot is where tile lane l's phase 0 lies in A ++ A'.
	slot := func(l int) int {
		g, s := l/tw, l%tw
		switch groups {
		case 1:
			return l/8*16 + l%8
		case 2:
			return 16*g + s
		case 4:
			return g/2*16 + g%2*4 + s
		}
		return g/4*16 + g/2%2*4 + g%2*2 + s
	}
	var lane [32]int32 // slot to lane, for the output
	for l := range groups * tw {
		lane[slot(l)] = int32(l)
	}
	for k := range 16 {
		if k < 8 {
			p.in[0][k], p.in[1][k] = int32(4*k), int32(4*k+2)
			p.out[0][k], p.out[1][k] = lane[k], lane[16+k]
		} else {
			p.in[0][k], p.in[1][k] = int32(4*(k-8)+1), int32(4*(k-8)+3)
			p.out[0][k], p.out[1][k] = 16+lane[k-8], 16+lane[k+8]
		}
		ph, s := k%4, k/4
		p.out[2][k] = int32(ph/2*16 + ph%2*8 + s)
		p.out[3][k] = p.out[2][k] + 4
	}
	for l := range groups * tw {
		p.in[2][l], p.in[3][l] = int32(slot(l)), int32(slot(l)+8)
		g, s := l/tw, l%tw
		switch {
		case groups == 1 && l < 15:
			p.in[4][l] = int32(slot(l + 1))
		case groups > 1 && s+1 < per:
			p.in[4][l] = int32(slot(l) + 1)
		}
		p.in[5][l] = p.in[4][l] + 8
		if groups > 1 {
			p.in[6][l] = int32(2 * g)
		}
		p.in[7][l] = p.in[6][l] + 1
	}
	return p
}

// winoInput4Go is winoInput4 in Go, one tile at a time.
func winoInput4Go(v []float32, l winoLayout, plane, col0 int, x []float32, ty0, ty1 int, d ConvDims) {
	_, tw := d.tiles()
	winoInputTilesGo(x, ty0, ty1, d, func(c, ty, tx int, t [6][6]float32) {
		// B^T d down the columns, then (B^T d) B along the rows.
		for j := range 6 {
			o := bt6(t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j])
			for i := range 6 {
				t[i][j] = o[i]
			}
		}
		at := l.at(c, col0+(ty-ty0)*tw+tx)
		for i := range 6 {
			o := bt6(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5])
			for j := range 6 {
				v[(6*i+j)*plane+at] = o[j]
			}
		}
	})
}

// winoOutput4 is winoOutput for F(4x4, 3x3) over a whole pass, as
// winoInput4 lays it out: the 4x4 output tiles A^T M A from the 36
// matrices M_e, into the imgs images of y (and res, laid out like y).
func winoOutput4(y, m []float32, ld, plane int, bias, res []float32, relu bool, imgs, ty0, ty1 int, d ConvDims) {
	out := d.K * d.OH * d.OW
	_, tw := d.tiles()
	if !useWinoAsm && useWinoAVX2 {
		winoOutput4AVX2(y, m, ld, plane, bias, res, relu, imgs, ty0, ty1, d)
		return
	}
	if !useWinoAsm {
		for i := range imgs {
			var ri []float32
			if res != nil {
				ri = res[i*out : (i+1)*out]
			}
			winoOutput4Go(y[i*out:(i+1)*out], m, ld, plane, i*(ty1-ty0)*tw, bias, ri, relu, ty0, ty1, d)
		}
		return
	}
	groups := wino4Groups(tw)
	perm := &wino4PermsFor(tw).out
	flags, bp, rp := outputFlags(bias, res, relu)
	var p wino4Plan
	for c := range wino4Calls(tw, imgs*(ty1-ty0)) {
		p = wino4Plan{}
		p.store[0] = uint16(1<<c.lanes - 1)
		p.planRows(c, groups, ty0, ty1, out, d)
		mp := &m[c.row*tw+c.tx0]
		switch groups {
		case 1:
			wino4OutputG1AVX512(&y[0], mp, rp, bp, d.K, d.OH*d.OW, ld, plane, flags, &p, perm)
		case 2:
			wino4OutputG2AVX512(&y[0], mp, rp, bp, d.K, d.OH*d.OW, ld, plane, flags, &p, perm)
		case 4:
			wino4OutputG4AVX512(&y[0], mp, rp, bp, d.K, d.OH*d.OW, ld, plane, flags, &p, perm)
		default:
			wino4OutputG8AVX512(&y[0], mp, rp, bp, d.K, d.OH*d.OW, ld, plane, flags, &p, perm)
		}
	}
}

// planRows plans the chunks of the four output rows of call c's tiles
// (the tiles of tile rows [ty0, ty1) of images out floats apart), for the
// output transform's stores or dy's transform's loads: rows and columns
// past the output are masked off.
func (p *wino4Plan) planRows(c wino4Call, groups, ty0, ty1, out int, d ConvDims) {
	for k := range 8 {
		g, off, lanes, ok := wino4Part(groups, k)
		if !ok || g >= c.groups {
			continue
		}
		img, ty := (c.row+g)/(ty1-ty0), ty0+(c.row+g)%(ty1-ty0)
		x := 4*c.tx0 + off
		mask := laneMask(x, d.OW) & lanes
		for i := range 4 {
			if oy := 4*ty + i; oy < d.OH {
				p.off[i][k] = int64(4 * (img*out + oy*d.OW + x))
				p.mask[i][k] = mask
			}
		}
	}
}

// winoOutput4Go is winoOutput4 in Go, one tile at a time.
func winoOutput4Go(y, m []float32, ld, plane, col0 int, bias, res []float32, relu bool, ty0, ty1 int, d ConvDims) {
	winoTilesGo(y, bias, res, relu, ty0, ty1, d, func(k, ty, tx int) (q [4][4]float32) {
		o := k*ld + col0 + (ty-ty0)*((d.OW+3)/4) + tx
		// A^T M down the columns, then along the rows.
		var a [4][6]float32
		for j := range 6 {
			e := func(i int) float32 { return m[(6*i+j)*plane+o] }
			c := at6(e(0), e(1), e(2), e(3), e(4), e(5))
			for i := range 4 {
				a[i][j] = c[i]
			}
		}
		for i := range 4 {
			q[i] = at6(a[i][0], a[i][1], a[i][2], a[i][3], a[i][4], a[i][5])
		}
		return q
	})
}

// useWinoAVX2 selects the AVX2 transforms of F(2x2, 3x3), F(4x4, 3x3)
// and the stride-2 Winograd where the AVX-512 ones cannot run; they give
// the Go transforms' bits.
var useWinoAVX2 = haveAVX2 && !haveAVX512

// winoInput4AVX2 is winoInput4 by the AVX2 kernel, into a plain V with
// rows ld floats apart: a call for each group of 8 tiles, over all the
// channels. Tile rows of 2 or 4 tiles (resnet's 14x14 maps, the CIFAR
// nets' 16x16 and 8x8) share a group, so that their lanes are full.
func winoInput4AVX2(v []float32, ld, plane int, x []float32, imgs, ty0, ty1 int, d ConvDims) {
	ps := plans.inPlans(d, imgs, ty0, ty1)
	i := 0
	for g := range wino4AVX2Groups(d, imgs, ty0, ty1, 2) {
		_ = v[g.col+35*plane+(d.C-1)*ld+g.n-1]
		wino4InAVX2(&x[0], d.C, d.H*d.W, &v[g.col], ld, plane, &ps[i], &avx2LaneMasks, g.lanes())
		i++
	}
}

// wino4InPlan plans a group of wino4InAVX2: for input row r of each of
// its four blocks q (lanes 2q and 2q+1), at 8r+q, and the same block 4
// columns on, at 8r+4+q, the byte offset from x, the byte offset of the
// lane mask in avx2LaneMasks and the kind (0 none, 1 whole, 2 masked);
// then its columns of whole blocks (markWholeColumns). The kernel reads
// the fields at fixed offsets: keep their order.
type wino4InPlan struct {
	off   [48]int64
	mask  [48]int32
	kind  [48]uint8
	col   [8]int64
	whole [8]uint8
	row   int64
}

// markWholeColumns fills in the columns of a plan whose blocks are
// planned, for a kernel that loads its blocks down columns of len(col)
// blocks a row (block b of row r at r*len(col)+b): where all of column
// b's blocks are whole, whole[b] is 1 and col[b] is its first row's
// offset, and the kernel loads the column by the row stride (rows w
// floats apart, *row bytes), testing none of its blocks. In the F(4x4,
// 3x3) input transform the blocks' tests had taken a fifth of its
// instructions.
func markWholeColumns(off []int64, kind []uint8, col []int64, whole []uint8, row *int64, w int) {
	*row = int64(4 * w)
	for b := range col {
		whole[b], col[b] = 1, off[b]
		for at := b; at < len(kind); at += len(col) {
			if kind[at] != 1 {
				whole[b] = 0
			}
		}
	}
}

// planWindow plans block q of a group of an input kernel, a tile's window
// of rows rows from input row y0 and column c0 of the image at x[base:]:
// row r's block at (2r)*half+q of off, mask and kind, and the same block
// shift columns on (the next tile's first columns) at (2r+1)*half+q.
func planWindow(off []int64, mask []int32, kind []uint8, half, q, rows, shift, base, y0, c0 int, d ConvDims) {
	// A block's mask and kind are its columns': the same in every row.
	var m [2]int32
	var k [2]uint8
	for s, c := range [2]int{c0, c0 + shift} {
		_, m[s], k[s] = planBlock(0, c, d.W)
	}
	for r := max(0, -y0); r < min(rows, d.H-y0); r++ {
		row := base + (y0+r)*d.W
		for s, c := range [2]int{c0, c0 + shift} {
			at := (2*r+s)*half + q
			if k[s] != 0 {
				off[at] = int64(4 * (row + c))
			}
			mask[at], kind[at] = m[s], k[s]
		}
	}
}

// planBlock plans a block of 8 columns of a row from column c (at offset
// at floats) of a row w wide: its byte offset, mask and kind.
func planBlock(at, c, w int) (off int64, mask int32, kind uint8) {
	lo, hi := max(0, -c), min(8, w-c)
	switch {
	case lo >= hi:
		return 0, 0, 0
	case lo == 0 && hi == 8:
		return int64(4 * at), 0, 1
	}
	return int64(4 * at), int32(32 * (9*lo + hi)), 2
}

// winoInputF2AVX2 is winoInput for F(2x2, 3x3) by the AVX2 kernel, into a
// plain V with rows ld floats apart: a call for each group of 8 tiles
// (tile rows of 4 tiles two a group), over all the channels.
func winoInputF2AVX2(v []float32, ld, plane, col0 int, x []float32, ty0, ty1 int, d ConvDims) {
	ps := plans.f2Plans(d, ty0, ty1)
	i := 0
	for g := range wino4AVX2Groups(d, 1, ty0, ty1, 4) {
		_ = v[col0+g.col+15*plane+(d.C-1)*ld+g.n-1]
		winoF2InAVX2(&x[0], d.C, d.H*d.W, &v[col0+g.col], ld, plane, &ps[i], &avx2LaneMasks, g.lanes())
		i++
	}
}

// winoF2InPlan plans a group of winoF2InAVX2 as wino4InPlan does one of
// wino4InAVX2: for input row r of its two blocks q (lanes 4q to 4q+3), at
// 4r+q, and the same block 2 columns on, at 4r+2+q.
type winoF2InPlan struct {
	off   [16]int64
	mask  [16]int32
	kind  [16]uint8
	col   [4]int64
	whole [4]uint8
	row   int64
}

// winoInputS2AVX2 is winoInputS2 by the AVX2 kernel, into a plain V with
// rows ld floats apart: a call for each group of 8 tiles (tile rows of 2
// or 4 tiles several a group), over all the channels.
func winoInputS2AVX2(v []float32, ld, plane, col0 int, x []float32, ty0, ty1 int, d ConvDims) {
	ps := plans.s2Plans(d, ty0, ty1)
	i := 0
	for g := range wino4AVX2Groups(d, 1, ty0, ty1, 2) {
		_ = v[col0+g.col+24*plane+(d.C-1)*ld+g.n-1]
		winoS2InAVX2(&x[0], d.C, d.H*d.W, &v[col0+g.col], ld, plane, &ps[i], &avx2LaneMasks, g.lanes())
		i++
	}
}

// winoS2InPlan plans a group of winoS2InAVX2 as wino4InPlan does one of
// wino4InAVX2, for 5 input rows.
type winoS2InPlan struct {
	off  [40]int64
	mask [40]int32
	kind [40]uint8
}

// avx2LaneMasks[9*lo+hi] enables lanes [lo, hi) of 8 (sign bits).
var avx2LaneMasks = func() (t [81][8]int32) {
	for lo := range 9 {
		for hi := lo; hi <= 8; hi++ {
			for l := lo; l < hi; l++ {
				t[9*lo+hi][l] = -1
			}
		}
	}
	return t
}()

// wino4Group is a group of the planned AVX2 kernels (F(4x4, 3x3)'s
// transforms, the input ones of F(2x2, 3x3) and the stride-2 Winograd): n tiles (n <= 8) of a pass from
// its column col. Its lanes are the tiles from tx0 on of the pass's tile
// row row (a pass counts its tile rows image after image, from tile row
// ty0 of each), or with multi, whole tile rows of tw tiles from row on.
// A block is per lanes, the tiles of 8 columns of a row.
type wino4Group struct {
	col, n, row, tx0, tw, ty0, ty1, per int
	multi                               bool
}

// wino4Tile is the tile of a lane: image, tile row and column.
type wino4Tile struct {
	img, ty, tx int
	ok          bool
}

// blocks yields the first tile of each of the group's blocks.
func (g wino4Group) blocks() iter.Seq2[int, wino4Tile] {
	return func(yield func(int, wino4Tile) bool) {
		for q := range 8 / g.per {
			t := wino4Tile{}
			if l := g.per * q; l < g.n {
				row, tx := g.row, g.tx0+l
				if g.multi {
					row, tx = g.row+l/g.tw, l%g.tw
				}
				rows := g.ty1 - g.ty0
				t = wino4Tile{img: row / rows, ty: g.ty0 + row%rows, tx: tx, ok: true}
			}
			if !yield(q, t) {
				return
			}
		}
	}
}

// lanes is the group's lane mask for the kernels, nil for all 8.
func (g wino4Group) lanes() *int32 {
	if g.n == 8 {
		return nil
	}
	return &avx2Masks[16-g.n]
}

// wino4AVX2Groups yields the groups of a pass's tile rows [ty0, ty1) of
// imgs images, per tiles a block: 8/tw tile rows a group where tw is at
// least per and divides 8, else groups of 8 tiles along each tile row,
// the last one partial.
func wino4AVX2Groups(d ConvDims, imgs, ty0, ty1, per int) iter.Seq[wino4Group] {
	_, tw := d.tiles()
	rows := imgs * (ty1 - ty0)
	return func(yield func(wino4Group) bool) {
		if tw >= per && tw < 8 && 8%tw == 0 {
			for r := 0; r < rows; r += 8 / tw {
				g := wino4Group{col: r * tw, n: min(8/tw, rows-r) * tw, row: r, tw: tw, ty0: ty0, ty1: ty1, per: per, multi: true}
				if !yield(g) {
					return
				}
			}
			return
		}
		for r := range rows {
			for tx0 := 0; tx0 < tw; tx0 += 8 {
				g := wino4Group{col: r*tw + tx0, n: min(8, tw-tx0), row: r, tx0: tx0, tw: tw, ty0: ty0, ty1: ty1, per: per}
				if !yield(g) {
					return
				}
			}
		}
	}
}

// zeroBias is the bias of a transform without one.
var zeroBias float32

// winoOutput4AVX2 is winoOutput4 by the AVX2 kernel: a call for each
// group of 8 tiles (as winoInput4AVX2 groups them), over all the output
// channels.
func winoOutput4AVX2(y, m []float32, ld, plane int, bias, res []float32, relu bool, imgs, ty0, ty1 int, d ConvDims) {
	ohw := d.OH * d.OW
	out := d.K * ohw
	bp, step := &zeroBias, 0
	if bias != nil {
		bp, step = &bias[0], 1
	}
	var rp *float32
	if res != nil {
		rp = &res[0]
	}
	r := 0
	if relu {
		r = 1
	}
	_ = y[imgs*out-1]
	ps := plans.outPlans(d, imgs, ty0, ty1)
	i := 0
	for g := range wino4AVX2Groups(d, imgs, ty0, ty1, 2) {
		_ = m[g.col+35*plane+(d.K-1)*ld+g.n-1]
		wino4OutAVX2(&y[0], &m[g.col], d.K, ohw, ld, plane, &ps[i], &avx2LaneMasks, g.lanes(), bp, step, rp, r)
		i++
	}
}

// wino4OutPlan plans a group of wino4OutAVX2 (or of wino4DyAVX2, which
// reads dy where it would write y): for output row i of each of its four
// blocks q (8 columns: lanes 2q and 2q+1), at 4i+q, the byte offset from
// y (and res), the byte offset of the lane mask in avx2LaneMasks and the
// kind (0 none, 1 whole, 2 masked). The kernels read the fields at fixed
// offsets: keep their order.
type wino4OutPlan struct {
	off   [16]int64
	mask  [16]int32
	kind  [16]uint8
	col   [4]int64 // wino4DyAVX2's columns (markWholeColumns)
	whole [4]uint8
	row   int64
}

// fill plans group g over the 4x4 tiles of images out floats apart
// shaped as d's output (y for wino4OutAVX2, dy for wino4DyAVX2).
func (plan *wino4OutPlan) fill(g wino4Group, out int, d ConvDims) {
	*plan = wino4OutPlan{}
	for q, t := range g.blocks() {
		if !t.ok {
			continue
		}
		for i := range min(4, d.OH-4*t.ty) {
			at := 4*i + q
			plan.off[at], plan.mask[at], plan.kind[at] = planBlock(t.img*out+(4*t.ty+i)*d.OW+4*t.tx, 4*t.tx, d.OW)
		}
	}
	markWholeColumns(plan.off[:], plan.kind[:], plan.col[:], plan.whole[:], &plan.row, d.OW)
}
