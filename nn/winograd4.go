package nn

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

// winoWeights4 writes U = G g G^T of each of the n 3x3 filters of w to
// u[e*n+i] for element e (of 36) of filter i, computed in float64 and
// rounded once.
func winoWeights4(u, w []float32, n int) {
	gm := [6][3]float64{
		{1.0 / 4, 0, 0},
		{-1.0 / 6, -1.0 / 6, -1.0 / 6},
		{-1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 1.0 / 12, 1.0 / 6},
		{1.0 / 24, -1.0 / 12, 1.0 / 6},
		{0, 0, 1},
	}
	for i := 0; i < n; i++ {
		g := w[9*i : 9*i+9]
		var t [6][3]float64 // G g
		for r := range 6 {
			for j := range 3 {
				for k := range 3 {
					t[r][j] += gm[r][k] * float64(g[3*k+j])
				}
			}
		}
		for r := range 6 {
			for c := range 6 {
				var s float64
				for k := range 3 {
					s += t[r][k] * gm[c][k]
				}
				u[(6*r+c)*n+i] = float32(s)
			}
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

// winoInput4 is winoInput for F(4x4, 3x3): V = B^T d B of the 6x6 input
// tiles d, 36 matrices V_e.
func winoInput4(v []float32, l winoLayout, plane, col0 int, x []float32, ty0, ty1 int, d ConvDims) {
	winoInput4Go(v, l, plane, col0, x, ty0, ty1, d)
}

// winoInput4Go is winoInput4 in Go, one tile at a time.
func winoInput4Go(v []float32, l winoLayout, plane, col0 int, x []float32, ty0, ty1 int, d ConvDims) {
	_, tw := d.tiles()
	for c := 0; c < d.C; c++ {
		xc := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for ty := ty0; ty < ty1; ty++ {
			iy := 4*ty - d.Pad
			for tx := 0; tx < tw; tx++ {
				ix := 4*tx - d.Pad
				var t [6][6]float32
				for i := range 6 {
					if yy := iy + i; yy >= 0 && yy < d.H {
						for j := range 6 {
							if xx := ix + j; xx >= 0 && xx < d.W {
								t[i][j] = xc[yy*d.W+xx]
							}
						}
					}
				}
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
			}
		}
	}
}

// winoOutput4 is winoOutput for F(4x4, 3x3): the 4x4 output tiles A^T M A
// from the 36 matrices M_e.
func winoOutput4(y, m []float32, ld, plane, col0 int, bias, res []float32, relu bool, ty0, ty1 int, d ConvDims) {
	winoOutput4Go(y, m, ld, plane, col0, bias, res, relu, ty0, ty1, d)
}

// winoOutput4Go is winoOutput4 in Go, one tile at a time.
func winoOutput4Go(y, m []float32, ld, plane, col0 int, bias, res []float32, relu bool, ty0, ty1 int, d ConvDims) {
	_, tw := d.tiles()
	for k := 0; k < d.K; k++ {
		var b float32
		if bias != nil {
			b = bias[k]
		}
		yk := y[k*d.OH*d.OW : (k+1)*d.OH*d.OW]
		var rk []float32
		if res != nil {
			rk = res[k*d.OH*d.OW : (k+1)*d.OH*d.OW]
		}
		for ty := ty0; ty < ty1; ty++ {
			for tx := 0; tx < tw; tx++ {
				o := k*ld + col0 + (ty-ty0)*tw + tx
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
					oy := 4*ty + i
					if oy >= d.OH {
						break
					}
					q := at6(a[i][0], a[i][1], a[i][2], a[i][3], a[i][4], a[i][5])
					for j := range 4 {
						ox := 4*tx + j
						if ox >= d.OW {
							break
						}
						at := oy*d.OW + ox
						val := q[j] + b
						if rk != nil {
							val += rk[at]
						}
						if relu {
							val = max(val, 0)
						}
						yk[at] = val
					}
				}
			}
		}
	}
}
