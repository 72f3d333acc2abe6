package nn

// Winograd for a 3x3 convolution at stride 2 (LowerWinogradS2), by its
// polyphase parts: along one axis, an output y_i = g0 d_2i + g1 d_2i+1 +
// g2 d_2i+2 is a 2-tap convolution of the even inputs by (g0, g2) plus a
// 1-tap one of the odd inputs by g1. Two outputs of the first take
// Winograd F(2, 2)'s three multiplies, of the second two: five where the
// direct convolution takes six. Across both axes, a 2x2 output tile (a
// 5x5 input tile at stride 4) takes 25 multiplies per channel pair
// instead of 36.
//
//	B^T = [1 0 -1 0 0]    G = [1 0 0]    A^T = [1 1 0 1 0]
//	      [0 0  1 0 0]        [1 0 1]          [0 1 1 0 1]
//	      [0 0 -1 0 1]        [0 0 1]
//	      [0 1  0 0 0]        [0 1 0]
//	      [0 0  0 1 0]        [0 1 0]
//
// B^T and A^T only add and take away, and G only adds g0 and g2: the
// rounding is that of a direct convolution's sums, reordered, and the Go
// and assembly transforms give the same bits.

// WinogradS2OK reports whether LowerWinogradS2 computes this convolution:
// a 3x3 kernel at stride 2, padded by at most 2.
func (d ConvDims) WinogradS2OK() bool {
	return d.KH == 3 && d.KW == 3 && d.Stride == 2 && d.Pad <= 2
}

// winoWeightsS2 writes U = G g G^T of filters [from, to) of the n 3x3
// filters of w to u[e*n+i] for element e (of 25) of filter i, computed in
// float64 and rounded once, as winoWeights does.
func winoWeightsS2(u, w []float32, n, from, to int) {
	gRows := func(g0, g1, g2 float64) [5]float64 { return [5]float64{g0, g0 + g2, g2, g1, g1} }
	for i := from; i < to; i++ {
		g := w[9*i : 9*i+9 : 9*i+9]
		f := func(j int) float64 { return float64(g[j]) }
		// G g down the columns, then (G g) G^T along each row.
		c0, c1, c2 := gRows(f(0), f(3), f(6)), gRows(f(1), f(4), f(7)), gRows(f(2), f(5), f(8))
		for r := range 5 {
			o := gRows(c0[r], c1[r], c2[r])
			for j := range 5 {
				u[(5*r+j)*n+i] = float32(o[j])
			}
		}
	}
}

// bt5 is B^T applied to five values.
func bt5(d0, d1, d2, d3, d4 float32) [5]float32 {
	return [5]float32{d0 - d2, d2, d4 - d2, d1, d3}
}

// winoInputS2 writes V = B^T d B for the 5x5 input tiles d of one image's
// tile rows [ty0, ty1): tile (ty, tx), from input row 4ty - Pad and column
// 4tx - Pad, goes to column col0 + (ty-ty0)*tw + tx of the 25 matrices
// V_e (C x cols, laid out by l, plane floats apart in v). Outside the
// image the input reads as 0 (the padding).
func winoInputS2(v []float32, l winoLayout, plane, col0 int, x []float32, ty0, ty1 int, d ConvDims) {
	if !useWinoAsm && useWinoAVX2 && l.width == plainLayout(0).width {
		winoInputS2AVX2(v, l.row, plane, col0, x, ty0, ty1, d)
		return
	}
	if !useWinoAsm {
		winoInputS2Go(v, l, plane, col0, x, ty0, ty1, d)
		return
	}
	_, tw := d.tiles()
	var masks [7]uint16
	for ty := ty0; ty < ty1; ty++ {
		iy := 4*ty - d.Pad
		rows := inRows(iy, 5, d.H)
		for tx0 := 0; tx0 < tw; tx0 += 16 {
			lanes := min(16, tw-tx0)
			base := 4*tx0 - d.Pad
			for i := range 4 {
				masks[i] = laneMask(base+16*i, d.W)
			}
			masks[4] = laneMask(base+64, d.W) & 1
			col := col0 + (ty-ty0)*tw + tx0
			lo, hi, split := l.stores(col, lanes)
			masks[5], masks[6] = lo, hi
			winoInputS2AVX512(&v[l.at(0, col)], &x[0], d.C, iy*d.W+base, d.H*d.W, l.row, plane, d.W, rows, &masks, &winoS2Perms, split)
		}
	}
}

// winoS2Perms take a tile's four first columns apart from 32 floats of
// the input row, eight tiles at stride 4: columns 0 and 1 of each, then
// columns 2 and 3.
var winoS2Perms = func() (p [32]int32) {
	for t := range 8 {
		p[t], p[8+t] = int32(4*t), int32(4*t+1)
		p[16+t], p[24+t] = int32(4*t+2), int32(4*t+3)
	}
	return p
}()

// winoInputS2Go is winoInputS2 in Go, one tile at a time.
func winoInputS2Go(v []float32, l winoLayout, plane, col0 int, x []float32, ty0, ty1 int, d ConvDims) {
	_, tw := d.tiles()
	winoInputTilesGo(x, ty0, ty1, d, func(c, ty, tx int, t [6][6]float32) {
		// d B along the rows, then B^T (d B) down the columns: the
		// kernel's order, which takes a row at a time.
		var r [5][5]float32
		for i := range 5 {
			r[i] = bt5(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4])
		}
		at := l.at(c, col0+(ty-ty0)*tw+tx)
		for j := range 5 {
			o := bt5(r[0][j], r[1][j], r[2][j], r[3][j], r[4][j])
			for i := range 5 {
				v[(5*i+j)*plane+at] = o[i]
			}
		}
	})
}

// winoOutputS2Go is winoOutput for LowerWinogradS2 in Go, one tile at a
// time: A^T M A from the 25 matrices M_e.
func winoOutputS2Go(y, m []float32, ld, plane, col0 int, bias, res []float32, relu bool, ty0, ty1 int, d ConvDims) {
	_, tw := d.tiles()
	winoTilesGo(y, bias, res, relu, ty0, ty1, d, func(k, ty, tx int) (q [4][4]float32) {
		o := k*ld + col0 + (ty-ty0)*tw + tx
		// A^T M down the columns, then along the rows.
		var a [2][5]float32
		for j := range 5 {
			e := func(i int) float32 { return m[(5*i+j)*plane+o] }
			a[0][j], a[1][j] = e(0)+e(1)+e(3), e(1)+e(2)+e(4)
		}
		for i := range 2 {
			q[i][0], q[i][1] = a[i][0]+a[i][1]+a[i][3], a[i][1]+a[i][2]+a[i][4]
		}
		return q
	})
}

// winoOutput2AVX2 is winoOutput (2x2 output tiles: F(2x2, 3x3) or the
// stride-2 Winograd) by the AVX2 kernels, one call per tile row and
// output channel.
func winoOutput2AVX2(y, m []float32, ld, plane, col0 int, bias, res []float32, relu bool, ty0, ty1 int, d ConvDims) {
	_, tw := d.tiles()
	ohw := d.OH * d.OW
	full, lanes, cols := groups2(tw, d.OW)
	r := 0
	if relu {
		r = 1
	}
	_ = m[(d.K-1)*ld+col0+(ty1-ty0)*tw-1+(d.winoN()-1)*plane]
	for k := range d.K {
		bp := &zeroBias
		if bias != nil {
			bp = &bias[k]
		}
		for ty := ty0; ty < ty1; ty++ {
			at := k*ohw + 2*ty*d.OW
			var rp *float32
			if res != nil {
				rp = &res[at]
			}
			col := k*ld + col0 + (ty-ty0)*tw
			if d.Lowering == LowerWinogradS2 {
				winoS2OutAVX2(&y[at], &m[col], plane, d.OW, min(2, d.OH-2*ty), full, lanes, cols, bp, rp, r)
			} else {
				winoF2OutAVX2(&y[at], &m[col], plane, d.OW, min(2, d.OH-2*ty), full, lanes, cols, bp, rp, r)
			}
		}
	}
}

// groups2 splits a tile row of tw 2x2 tiles, over ow columns, into the
// AVX2 kernels' groups: full whole groups (8 tiles and 16 columns inside
// the map), then, if lanes is not nil, one more whose tiles lanes enables
// and its columns cols (sign bits).
func groups2(tw, ow int) (full int, lanes, cols *int32) {
	full = min(tw/8, ow/16)
	if rest := tw - 8*full; rest > 0 {
		lanes = &avx2Masks[16-rest]
		cols = &avx2Masks[16-min(16, ow-16*full)]
	}
	return full, lanes, cols
}
