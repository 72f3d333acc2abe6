package nn

// The weight gradient of a Winograd convolution, by F(3x3, 2x2). A 3x3
// filter's gradient is the correlation of the padded input with dy: each
// 2x2 tile g of dy and the 4x4 input tile d under it (the forward pass's
// tiles) add A^T [(G g G^T) (.) (B^T d B)] A to the 3x3 values, where
//
//	B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 -1 0 1]
//	G   = [1 0; 1/2 1/2; 1/2 -1/2; 0 1]
//	A^T = [1 1 1 0; 0 1 -1 0; 0 1 1 1]
//
// This B^T is F(2x2, 3x3)'s with its last row negated, so B^T d B is the
// forward input transform's V with the elements in row 3 or column 3 (not
// both) negated: winoInput makes V, and the dy transform takes the signs
// on instead. The sum over tiles of each of the 16 elements is one GEMM,
// M_e (K x C) += U_e (K x tiles) * V_e^T (tiles x C): 16 multiplies a tile
// and channel pair, where im2col's columns take 36 (9 a pixel).

// winoGradFloats is the weight gradient's scratch: M, and one pass's V and
// U. A pass takes as many tiles as a forward pass (winoGroupCols), the
// GEMMs' inner dimension, so that V and U too stay in the cache between
// the transforms and the GEMMs (128 tiles ran a ResNet-20 training step 4%
// faster than 512).
func (d ConvDims) winoGradFloats() int {
	d2, d4 := d.f2(), d.f4()
	_, tw2 := d2.tiles()
	_, tw4 := d4.tiles()
	cols2, cols4 := max(tw2, d2.winoGroupCols()), max(tw4, d4.winoGroupCols())
	return max(16*(d.K*d.C+(d.C+d.uRows())*cols2+2*winoSkew), 36*(d.K*d.C+(d.C+d.K)*cols4+2*winoSkew))
}

// f4 is d lowered to F(4x4, 3x3): the tiles of the weight gradient by
// F(3x3, 4x4).
func (d ConvDims) f4() ConvDims {
	d.Lowering = LowerWinograd4
	return d
}

// uRows is the rows each U_e has room for: K rounded up to whole panels of
// the AVX-512 kernel, so that packing its edge panel can read 12 rows.
func (d ConvDims) uRows() int { return (d.K + 11) / 12 * 12 }

// winoWeightGrad overwrites dw with the weight gradient of images [from,
// to) of the batch, its GEMMs shared among the goroutines if split.
//
// With AVX-512 or AVX2 and channel counts that are multiples of 4 it goes by
// F(3x3, 4x4) (winoWeightGrad4), its GEMMs gradDot's; else by F(3x3, 2x2)
// and GEMMs that pack U and V, transposed.
func winoWeightGrad(ws *Workspace, dw, dy, x []float32, from, to int, d ConvDims, split bool) {
	if need := d.winoGradFloats(); len(ws.Col) < need {
		ws.Col = make([]float32, need) // a helper's workspace, on its first convolution
	}
	if gradDotAsm(d.K, d.C) {
		winoWeightGrad4(ws, dw, dy, x, from, to, d.f4(), split)
		return
	}
	gemm := gemmSerial
	if split {
		gemm = gemmParallel
	}
	d = d.f2()
	in, out := d.C*d.H*d.W, d.K*d.OH*d.OW
	th, tw := d.tiles()
	kc := d.K * d.C
	m := ws.Col[:16*kc]
	g, rows := d.passSplit(0, th, d.winoGroupCols())
	beta := float32(0)
	for n := from; n < to; n += g {
		imgs := min(g, to-n)
		for ty0 := 0; ty0 < th; ty0 += rows {
			ty1 := min(ty0+rows, th)
			per := (ty1 - ty0) * tw
			cols := imgs * per
			pv, pu := d.C*cols+winoSkew, d.uRows()*cols+winoSkew
			v := ws.Col[16*kc : 16*(kc+pv)]
			u := ws.Col[16*(kc+pv) : 16*(kc+pv+pu)]
			for i := range imgs {
				winoInput(v, plainLayout(cols), pv, i*per, x[(n+i)*in:(n+i+1)*in], ty0, ty1, d)
				winoDy(u, cols, pu, i*per, dy[(n+i)*out:(n+i+1)*out], ty0, ty1, d)
			}
			for e := range 16 {
				gemm(ws, false, true, d.K, d.C, cols, u[e*pu:e*pu+d.uRows()*cols], cols, v[e*pv:e*pv+d.C*cols], cols, beta, m[e*kc:(e+1)*kc], d.C, nil, nil)
			}
			beta = 1
		}
	}
	winoWeightOut(dw, m, kc)
}

// winoDotTask is one pass's weight-gradient GEMMs by gradDot: M_e
// (k x c, at m[e*k*c:]) += U_e V_e^T, U_e and V_e at u[e*pu:] and v[e*pv:]
// with rows cols floats apart, summed over their cols tiles.
type winoDotTask struct {
	m, u, v            []float32
	pu, pv, cols, k, c int
}

// run does elements [e0, e1), whose M_e are apart: goroutines may share them.
func (t *winoDotTask) run(_ *Workspace, e0, e1 int) {
	kc := t.k * t.c
	for e := e0; e < e1; e++ {
		gradDot(t.m[e*kc:(e+1)*kc], t.c, t.u[e*t.pu:], t.cols, t.v[e*t.pv:], t.cols, t.k, t.c, t.cols)
	}
}

// winoDy writes U = G g G^T, with winoWeightGrad's signs, for the 2x2
// tiles g of one image's dy (K x OH x OW) in tile rows [ty0, ty1): tile
// (ty, tx) goes to column col0 + (ty-ty0)*tw + tx of the 16 matrices U_e
// (K x ld, plane floats apart in u). Past an odd OH or OW, dy reads as 0.
func winoDy(u []float32, ld, plane, col0 int, dy []float32, ty0, ty1 int, d ConvDims) {
	if !useWinoAsm && useWinoAVX2 {
		winoDyAVX2(u, ld, plane, col0, dy, ty0, ty1, d)
		return
	}
	if !useWinoAsm {
		winoDyGo(u, ld, plane, col0, dy, ty0, ty1, d)
		return
	}
	_, tw := d.tiles()
	var masks [3]uint16
	for c := range transformCalls(tw, ty0, ty1) {
		rows := inRows(2*c.ty, 2, d.OH)
		perm := &winoPerms[16][0]
		if tw <= 8 {
			masks[0] = laneMask(0, d.OW)
			masks[1] = masks[0]
			if c.second {
				rows |= inRows(2*c.ty+2, 2, d.OH) << 4
			}
			perm = &winoPerms[tw][0]
		} else {
			masks[0], masks[1] = laneMask(2*c.tx0, d.OW), laneMask(2*c.tx0+16, d.OW)
			rows |= rows << 4
		}
		masks[2] = uint16(1<<c.lanes - 1)
		col := col0 + (c.ty-ty0)*tw + c.tx0
		winoDyAVX512(&u[col], &dy[0], d.K, 2*c.ty*d.OW+2*c.tx0, d.OH*d.OW, ld, plane, d.OW, rows, &masks, perm, c.hiOff(tw, d.OW))
	}
}

// winoDyGo is winoDy in Go, one tile at a time.
func winoDyGo(u []float32, ld, plane, col0 int, dy []float32, ty0, ty1 int, d ConvDims) {
	dyTilesGo(dy, ld, col0, ty0, ty1, d, func(o int, g [4][4]float32) {
		// G g down the columns, row 3 negated; then along the rows,
		// column 3 negated.
		var t [4][2]float32
		for j := range 2 {
			g0, g1 := g[0][j], g[1][j]
			t[0][j], t[1][j], t[2][j], t[3][j] = g0, (g0+g1)*0.5, (g0-g1)*0.5, -g1
		}
		for i := range 4 {
			t0, t1 := t[i][0], t[i][1]
			u[(4*i)*plane+o] = t0
			u[(4*i+1)*plane+o] = (t0 + t1) * 0.5
			u[(4*i+2)*plane+o] = (t0 - t1) * 0.5
			u[(4*i+3)*plane+o] = -t1
		}
	})
}

// dyTilesGo calls tile for each m x m tile g of dy (K x OH x OW), m d's
// winoM, in tile rows [ty0, ty1): g in the top left of a 4x4 array, 0
// past OH or OW, and o its column in U (k*ld + col0 + (ty-ty0)*tw + tx).
func dyTilesGo(dy []float32, ld, col0, ty0, ty1 int, d ConvDims, tile func(o int, g [4][4]float32)) {
	_, tw := d.tiles()
	m, ohw := d.winoM(), d.OH*d.OW
	for k := 0; k < d.K; k++ {
		p := dy[k*ohw : (k+1)*ohw]
		for ty := ty0; ty < ty1; ty++ {
			for tx := 0; tx < tw; tx++ {
				var g [4][4]float32
				for a := range m {
					if oy := m*ty + a; oy < d.OH {
						for b := range m {
							if ox := m*tx + b; ox < d.OW {
								g[a][b] = p[oy*d.OW+ox]
							}
						}
					}
				}
				tile(k*ld+col0+(ty-ty0)*tw+tx, g)
			}
		}
	}
}

// winoWeightOut writes the 3x3 gradient A^T M A of each of n filters,
// element e of filter i at m[e*n+i], to dw[9i:9i+9].
func winoWeightOut(dw, m []float32, n int) {
	for i := 0; i < n; i++ {
		// A^T M down the columns, then along the rows.
		var t [3][4]float32
		for j := range 4 {
			m0, m1, m2, m3 := m[j*n+i], m[(4+j)*n+i], m[(8+j)*n+i], m[(12+j)*n+i]
			t[0][j], t[1][j], t[2][j] = m0+m1+m2, m1-m2, m1+m2+m3
		}
		out := dw[9*i : 9*i+9]
		for r, a := range t {
			out[3*r], out[3*r+1], out[3*r+2] = a[0]+a[1]+a[2], a[1]-a[2], a[1]+a[2]+a[3]
		}
	}
}

// The weight gradient by F(3x3, 4x4), the transpose of the forward pass's
// F(4x4, 3x3): each 4x4 tile g of dy and the 6x6 input tile d under it
// add G^T [(A g A^T) (.) (B^T d B)] G to the 3x3 values, with F(4x4, 3x3)'s
// B^T, G and A^T (winograd4.go) and A the transpose of that A^T. B^T d B
// is the forward input transform, winoInput4. The sum over tiles of each
// of the 36 elements is one gradDot: 36 multiplies a 4x4 tile and channel
// pair, where F(3x3, 2x2) takes 64. At 64 images on one core, ResNet-20's
// weight gradients took 1.5 ms (16 channels, 32x32), 1.1 ms (32, 16x16)
// and 1.3 ms (64, 8x8), against F(3x3, 2x2)'s 2.2-2.5, 1.8-2.1 and
// 1.8-1.9. Its error stays near F(3x3, 2x2)'s (2.4e-6 of the largest
// value against 2.0e-6 in TestWinogradTraining): the sums over the tiles
// dominate it.

// winoWeightGrad4 is winoWeightGrad by F(3x3, 4x4), for d lowered to
// F(4x4, 3x3) and the GEMMs by gradDot in assembly.
func winoWeightGrad4(ws *Workspace, dw, dy, x []float32, from, to int, d ConvDims, split bool) {
	in, out := d.C*d.H*d.W, d.K*d.OH*d.OW
	th, tw := d.tiles()
	kc := d.K * d.C
	m := ws.Col[:36*kc]
	clear(m) // the dot products only add
	g, rows := d.passSplit(0, th, d.winoGroupCols())
	for n := from; n < to; n += g {
		imgs := min(g, to-n)
		for ty0 := 0; ty0 < th; ty0 += rows {
			ty1 := min(ty0+rows, th)
			cols := imgs * (ty1 - ty0) * tw
			pv, pu := d.C*cols+winoSkew, d.K*cols+winoSkew
			v := ws.Col[36*kc : 36*(kc+pv)]
			u := ws.Col[36*(kc+pv) : 36*(kc+pv+pu)]
			winoInput4(v, plainLayout(cols), pv, x[n*in:(n+imgs)*in], imgs, ty0, ty1, d)
			winoDy4(u, cols, pu, dy[n*out:(n+imgs)*out], imgs, ty0, ty1, d)
			t := winoDotTask{m: m, u: u, v: v, pu: pu, pv: pv, cols: cols, k: d.K, c: d.C}
			if nt := threadCount(); split && nt > 1 {
				ws.winoDot = t
				shareRange(ws, &ws.winoDot, 36, nt)
			} else {
				t.run(ws, 0, 36)
			}
		}
	}
	winoWeightOut4(dw, m, kc)
}

// a6 is A applied to four values (A^T of F(4x4, 3x3) transposed), in the
// assembly's order of operations. Its multiplies are by powers of two.
func a6(g0, g1, g2, g3 float32) (o [6]float32) {
	e1, o1 := g0+g2, g1+g3
	e2, h := g0+4*g2, g1+4*g3
	o[0] = g0
	o[1], o[2] = e1+o1, e1-o1
	o[3], o[4] = e2+2*h, e2-2*h
	o[5] = g3
	return o
}

// winoDy4 writes U = A g A^T for the 4x4 tiles g of tile rows [ty0, ty1)
// of the imgs images of dy (K x OH x OW each), 36 matrices U_e (K x ld,
// plane floats apart in u), the tiles in columns from 0 in order, as
// winoInput4 lays out V. Past OH or OW, dy reads as 0.
func winoDy4(u []float32, ld, plane int, dy []float32, imgs, ty0, ty1 int, d ConvDims) {
	out := d.K * d.OH * d.OW
	_, tw := d.tiles()
	if !useWinoAsm && useWinoAVX2 {
		winoDy4AVX2(u, ld, plane, dy, imgs, ty0, ty1, d)
		return
	}
	if !useWinoAsm {
		for i := range imgs {
			winoDy4Go(u, ld, plane, i*(ty1-ty0)*tw, dy[i*out:(i+1)*out], ty0, ty1, d)
		}
		return
	}
	groups := wino4Groups(tw)
	perm := &wino4PermsFor(tw).in
	var p wino4Plan
	for c := range wino4Calls(tw, imgs*(ty1-ty0)) {
		p = wino4Plan{}
		p.store[0] = uint16(1<<c.lanes - 1)
		p.planRows(c, groups, ty0, ty1, out, d)
		up := &u[c.row*tw+c.tx0]
		switch groups {
		case 1:
			wino4DyG1AVX512(up, &dy[0], d.K, d.OH*d.OW, ld, plane, &p, perm)
		case 2:
			wino4DyG2AVX512(up, &dy[0], d.K, d.OH*d.OW, ld, plane, &p, perm)
		case 4:
			wino4DyG4AVX512(up, &dy[0], d.K, d.OH*d.OW, ld, plane, &p, perm)
		default:
			wino4DyG8AVX512(up, &dy[0], d.K, d.OH*d.OW, ld, plane, &p, perm)
		}
	}
}

// winoDy4AVX2 is winoDy4 by the AVX2 kernel: a call for each group of 8
// tiles (as winoInput4AVX2 groups them), over all the channels.
func winoDy4AVX2(u []float32, ld, plane int, dy []float32, imgs, ty0, ty1 int, d ConvDims) {
	out := d.K * d.OH * d.OW
	_ = dy[imgs*out-1]
	ps := plans.outPlans(d, imgs, ty0, ty1) // dy is shaped as the output
	i := 0
	for g := range wino4AVX2Groups(d, imgs, ty0, ty1, 2) {
		_ = u[g.col+35*plane+(d.K-1)*ld+g.n-1]
		wino4DyAVX2(&dy[0], d.K, d.OH*d.OW, &u[g.col], ld, plane, &ps[i], &avx2LaneMasks, g.lanes())
		i++
	}
}

// winoDy4Go is winoDy4 in Go, one tile at a time, for one image.
func winoDy4Go(u []float32, ld, plane, col0 int, dy []float32, ty0, ty1 int, d ConvDims) {
	dyTilesGo(dy, ld, col0, ty0, ty1, d, func(o int, g [4][4]float32) {
		// A g down the columns, then (A g) A^T along the rows.
		var t [6][4]float32
		for j := range 4 {
			c := a6(g[0][j], g[1][j], g[2][j], g[3][j])
			for i := range 6 {
				t[i][j] = c[i]
			}
		}
		for i := range 6 {
			r := a6(t[i][0], t[i][1], t[i][2], t[i][3])
			for j := range 6 {
				u[(6*i+j)*plane+o] = r[j]
			}
		}
	})
}

// winoWeightOut4 writes the 3x3 gradient G^T M G of each of n filters,
// element e of filter i at m[e*n+i], to dw[9i:9i+9], in float64 and
// rounded once: G's sixths and twelfths are not exact in float32.
func winoWeightOut4(dw, m []float32, n int) {
	// gCols is G^T applied to six values.
	const sixth, twelfth, twentyFourth = 1.0 / 6, 1.0 / 12, 1.0 / 24
	gCols := func(m0, m1, m2, m3, m4, m5 float64) (o [3]float64) {
		s1, d1 := m1+m2, m1-m2
		s2, d2 := m3+m4, m3-m4
		o[0] = m0*0.25 - s1*sixth + s2*twentyFourth
		o[1] = d2*twelfth - d1*sixth
		o[2] = (s2-s1)*sixth + m5
		return o
	}
	// 16 filters at a time from buf, each element's 16 values copied in
	// one run: M's 36 matrices lie n floats apart, and a value at a time
	// from each, when n is a power of two, thrashed the cache sets they
	// share (64 x 64 filters took 0.5 ms).
	var buf [36][16]float32
	for i0 := 0; i0 < n; i0 += 16 {
		f := min(16, n-i0)
		for e := range buf {
			copy(buf[e][:f], m[e*n+i0:e*n+i0+f])
		}
		for i := range f {
			var t [3][6]float64
			for j := range 6 {
				c := gCols(float64(buf[j][i]), float64(buf[6+j][i]), float64(buf[12+j][i]), float64(buf[18+j][i]), float64(buf[24+j][i]), float64(buf[30+j][i]))
				t[0][j], t[1][j], t[2][j] = c[0], c[1], c[2]
			}
			out := dw[9*(i0+i) : 9*(i0+i)+9 : 9*(i0+i)+9]
			for r, a := range t {
				o := gCols(a[0], a[1], a[2], a[3], a[4], a[5])
				out[3*r], out[3*r+1], out[3*r+2] = float32(o[0]), float32(o[1]), float32(o[2])
			}
		}
	}
}

// winoDyAVX2 is winoDy by the AVX2 kernel, a call per tile row and
// output channel.
func winoDyAVX2(u []float32, ld, plane, col0 int, dy []float32, ty0, ty1 int, d ConvDims) {
	_, tw := d.tiles()
	ohw := d.OH * d.OW
	full, lanes, cols := groups2(tw, d.OW)
	_ = u[(d.K-1)*ld+col0+(ty1-ty0)*tw-1+15*plane]
	for k := range d.K {
		for ty := ty0; ty < ty1; ty++ {
			at := k*ohw + 2*ty*d.OW
			_ = dy[at+min(2, d.OH-2*ty)*d.OW-1]
			winoF2DyAVX2(&dy[at], d.OW, min(2, d.OH-2*ty), &u[k*ld+col0+(ty-ty0)*tw], plane, full, lanes, cols)
		}
	}
}
