package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// convRef is the direct 7-loop convolution in float64.
func convRef(x, w, bias []float32, batch int, d ConvDims) []float32 {
	y := make([]float32, batch*d.K*d.OH*d.OW)
	for n := 0; n < batch; n++ {
		for k := 0; k < d.K; k++ {
			for oh := 0; oh < d.OH; oh++ {
				for ow := 0; ow < d.OW; ow++ {
					var s float64
					if bias != nil {
						s = float64(bias[k])
					}
					for c := 0; c < d.C; c++ {
						for kh := 0; kh < d.KH; kh++ {
							for kw := 0; kw < d.KW; kw++ {
								ih, iw := oh*d.Stride-d.Pad+kh, ow*d.Stride-d.Pad+kw
								if ih >= 0 && ih < d.H && iw >= 0 && iw < d.W {
									s += float64(x[((n*d.C+c)*d.H+ih)*d.W+iw]) * float64(w[((k*d.C+c)*d.KH+kh)*d.KW+kw])
								}
							}
						}
					}
					y[((n*d.K+k)*d.OH+oh)*d.OW+ow] = float32(s)
				}
			}
		}
	}
	return y
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func convDims(c, h, w, k, kh, kw, s, p int) ConvDims {
	return ConvDims{C: c, H: h, W: w, K: k, KH: kh, KW: kw, Stride: s, Pad: p,
		OH: (h+2*p-kh)/s + 1, OW: (w+2*p-kw)/s + 1}
}

// TestConv checks the forward pass against the direct loops, and the
// backward pass through the adjoint identities <dy, conv(dx)> = <conv^T dy, dx>
// and <dy, conv_w(x)> = <dw, w> (conv is linear in x and in w).
func TestConv(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, d := range []ConvDims{
		convDims(3, 9, 7, 5, 3, 3, 1, 1),
		convDims(3, 11, 13, 4, 7, 7, 2, 3),
		convDims(6, 7, 7, 10, 1, 1, 1, 0), // direct: no im2col
		convDims(5, 9, 8, 7, 1, 1, 2, 0),  // projection shortcut
		convDims(4, 8, 8, 3, 3, 2, 2, 1),  // rectangular kernel
		convDims(2, 5, 5, 3, 5, 5, 3, 0),
		convDims(3, 7, 6, 4, 5, 5, 1, 2), // stride 1: the im2col fast path
		convDims(2, 6, 9, 3, 3, 3, 1, 0),
		convDims(2, 3, 2, 2, 5, 5, 1, 2), // taps that miss the whole row
	} {
		const batch = 3
		ws := NewWorkspace(d.ColFloats())
		x := randSlice(r, batch*d.C*d.H*d.W)
		w := randSlice(r, d.K*d.C*d.KH*d.KW)
		bias := randSlice(r, d.K)
		y := make([]float32, batch*d.K*d.OH*d.OW)
		Conv2D(ws, y, x, w, bias, batch, d)
		if e := maxRelErr(y, convRef(x, w, bias, batch, d)); e > 1e-5 {
			t.Errorf("%+v: forward max rel err %g", d, e)
		}
		dy := randSlice(r, len(y))
		dx := randSlice(r, len(x)) // backward accumulates into dx
		dx0 := append([]float32(nil), dx...)
		dw, db := make([]float32, len(w)), make([]float32, d.K)
		Conv2DBackward(ws, dx, AddGrad, dw, db, dy, x, w, batch, d)
		for i := range dx {
			dx[i] -= dx0[i]
		}
		// Overwriting garbage gives what adding gave.
		dxSet := randSlice(r, len(x))
		Conv2DBackward(ws, dxSet, SetGrad, make([]float32, len(w)), make([]float32, d.K), dy, x, w, batch, d)
		if e := maxRelErr(dxSet, dx); e > 1e-5 {
			t.Errorf("%+v: dx overwritten differs from dx added by %g", d, e)
		}
		v := randSlice(r, len(x))
		lhs := dot(dy, convRef(v, w, nil, batch, d))
		if rhs := dot(dx, v); math.Abs(lhs-rhs) > 1e-4*math.Abs(lhs)+1e-3 {
			t.Errorf("%+v: dx adjoint %g vs %g", d, lhs, rhs)
		}
		u := randSlice(r, len(w))
		lhs = dot(dy, convRef(x, u, nil, batch, d))
		if rhs := dot(dw, u); math.Abs(lhs-rhs) > 1e-4*math.Abs(lhs)+1e-3 {
			t.Errorf("%+v: dw adjoint %g vs %g", d, lhs, rhs)
		}
		for k := 0; k < d.K; k++ {
			var s float64
			for n := 0; n < batch; n++ {
				for i := 0; i < d.OH*d.OW; i++ {
					s += float64(dy[(n*d.K+k)*d.OH*d.OW+i])
				}
			}
			if math.Abs(s-float64(db[k])) > 1e-4 {
				t.Errorf("%+v: db[%d] %g vs %g", d, k, db[k], s)
			}
		}
	}
}

// numGrad estimates d f / d x[i] by central differences in float64 of a
// float32 function.
func numGrad(f func() float64, x []float32, i int, h float32) float64 {
	old := x[i]
	x[i] = old + h
	fp := f()
	x[i] = old - h
	fm := f()
	x[i] = old
	return (fp - fm) / (2 * float64(h))
}

// TestBatchNormStatisticsFarFromZero checks the train-mode statistics of
// channels whose mean is 10^5 spreads from 0, one of them with its first
// value (the sums' shift) 50 spreads out, against float64 two-pass sums:
// the variance to float32's precision. Sizes with and without the
// AVX-512 kernels' tails.
func TestBatchNormStatisticsFarFromZero(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	for _, hw := range []int{7, 49, 1024} {
		const batch, c = 5, 3
		x := randSlice(r, batch*c*hw)
		for i := range x {
			x[i] = 1000 + 0.01*x[i]
		}
		x[1*hw] = 1000.5 // channel 1's first value, its shift
		y := make([]float32, len(x))
		rm, rv, sm, si := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
		BatchNormTrain(y, x, slices.Repeat([]float32{1}, c), make([]float32, c), rm, rv, sm, si, batch, c, hw, 0, 1)
		for ch := 0; ch < c; ch++ {
			var mean, sq float64
			for n := 0; n < batch; n++ {
				for _, v := range x[(n*c+ch)*hw : (n*c+ch+1)*hw] {
					mean += float64(v)
				}
			}
			mean /= float64(batch * hw)
			for n := 0; n < batch; n++ {
				for _, v := range x[(n*c+ch)*hw : (n*c+ch+1)*hw] {
					sq += (float64(v) - mean) * (float64(v) - mean)
				}
			}
			variance := sq / float64(batch*hw)
			if e := math.Abs(float64(sm[ch])-mean) / mean; e > 1e-7 {
				t.Errorf("hw %d channel %d: mean %g, want %g", hw, ch, sm[ch], mean)
			}
			if got := 1 / (float64(si[ch]) * float64(si[ch])); math.Abs(got-variance) > 1e-6*variance {
				t.Errorf("hw %d channel %d: variance %g, want %g", hw, ch, got, variance)
			}
			if want := sq / float64(batch*hw-1); math.Abs(float64(rv[ch])-want) > 1e-6*want {
				t.Errorf("hw %d channel %d: running variance %g, want %g", hw, ch, rv[ch], want)
			}
		}
	}
}

func TestBatchNormTrainAndBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const batch, c, hw = 3, 4, 7
	x := randSlice(r, batch*c*hw)
	for i := range x {
		x[i] = x[i]*2 + 0.5
	}
	gamma, beta := randSlice(r, c), randSlice(r, c)
	rm, rv := randSlice(r, c), make([]float32, c)
	for i := range rv {
		rv[i] = 1 + float32(i)
	}
	rm0, rv0 := append([]float32(nil), rm...), append([]float32(nil), rv...)
	y := make([]float32, len(x))
	sm, si := make([]float32, c), make([]float32, c)
	BatchNormTrain(y, x, gamma, beta, rm, rv, sm, si, batch, c, hw, 1e-5, 0.1)
	for ch := 0; ch < c; ch++ {
		var vals []float64
		for n := 0; n < batch; n++ {
			for i := 0; i < hw; i++ {
				vals = append(vals, float64(x[(n*c+ch)*hw+i]))
			}
		}
		var mean, sq float64
		for _, v := range vals {
			mean += v
		}
		mean /= float64(len(vals))
		for _, v := range vals {
			sq += (v - mean) * (v - mean)
		}
		if want := 0.9*float64(rm0[ch]) + 0.1*mean; math.Abs(float64(rm[ch])-want) > 1e-5 {
			t.Errorf("running mean %g, want %g", rm[ch], want)
		}
		if want := 0.9*float64(rv0[ch]) + 0.1*sq/float64(len(vals)-1); math.Abs(float64(rv[ch])-want) > 1e-5 {
			t.Errorf("running var %g, want %g", rv[ch], want)
		}
		inv := 1 / math.Sqrt(sq/float64(len(vals))+1e-5)
		got := float64(y[(1*c+ch)*hw+2])
		want := (float64(x[(1*c+ch)*hw+2])-mean)*inv*float64(gamma[ch]) + float64(beta[ch])
		if math.Abs(got-want) > 1e-5 {
			t.Errorf("y %g, want %g", got, want)
		}
	}
	// Backward against finite differences of L = <dy, bn(x)>.
	dy := randSlice(r, len(x))
	dx, dg, db := make([]float32, len(x)), make([]float32, c), make([]float32, c)
	BatchNormBackward(dx, dg, db, dy, x, gamma, sm, si, batch, c, hw)
	loss := func() float64 {
		tmp, m, v := make([]float32, len(x)), make([]float32, c), make([]float32, c)
		a, b := make([]float32, c), make([]float32, c)
		BatchNormTrain(tmp, x, gamma, beta, a, b, m, v, batch, c, hw, 1e-5, 0.1)
		return dot(dy, tmp)
	}
	for _, i := range []int{0, 5, 17, len(x) - 1} {
		if g := numGrad(loss, x, i, 1e-2); math.Abs(g-float64(dx[i])) > 2e-2*math.Abs(g)+2e-3 {
			t.Errorf("dx[%d] = %g, finite differences %g", i, dx[i], g)
		}
	}
	for ch := 0; ch < c; ch++ {
		if g := numGrad(loss, gamma, ch, 1e-2); math.Abs(g-float64(dg[ch])) > 1e-2*math.Abs(g)+1e-3 {
			t.Errorf("dgamma[%d] = %g, finite differences %g", ch, dg[ch], g)
		}
		if g := numGrad(loss, beta, ch, 1e-2); math.Abs(g-float64(db[ch])) > 1e-2*math.Abs(g)+1e-3 {
			t.Errorf("dbeta[%d] = %g, finite differences %g", ch, db[ch], g)
		}
	}
	// Eval mode with the running statistics.
	BatchNormEval(y, x, gamma, beta, rm, rv, batch, c, hw, 1e-5)
	want := (float64(x[hw+1])-float64(rm[1]))/math.Sqrt(float64(rv[1])+1e-5)*float64(gamma[1]) + float64(beta[1])
	if math.Abs(float64(y[hw+1])-want) > 1e-5 {
		t.Errorf("eval y %g, want %g", y[hw+1], want)
	}
}

func TestMaxPool(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	d := PoolDims{C: 2, H: 9, W: 7, KH: 3, KW: 3, Stride: 2, Pad: 1}
	d.OH, d.OW = (d.H+2*d.Pad-d.KH)/d.Stride+1, (d.W+2*d.Pad-d.KW)/d.Stride+1
	const batch = 2
	x := randSlice(r, batch*d.C*d.H*d.W)
	y := make([]float32, batch*d.C*d.OH*d.OW)
	MaxPool(nil, y, x, batch, d)
	// Reference: scan each window.
	for p := 0; p < batch*d.C; p++ {
		for oh := 0; oh < d.OH; oh++ {
			for ow := 0; ow < d.OW; ow++ {
				best := float32(math.Inf(-1))
				for ih := oh*2 - 1; ih <= oh*2+1; ih++ {
					for iw := ow*2 - 1; iw <= ow*2+1; iw++ {
						if ih >= 0 && ih < d.H && iw >= 0 && iw < d.W {
							best = max(best, x[(p*d.H+ih)*d.W+iw])
						}
					}
				}
				if got := y[(p*d.OH+oh)*d.OW+ow]; got != best {
					t.Fatalf("plane %d (%d,%d): %g, want %g", p, oh, ow, got, best)
				}
			}
		}
	}
	dy := randSlice(r, len(y))
	dx := make([]float32, len(x))
	MaxPoolBackward(dx, dy, x, batch, d)
	loss := func() float64 { tmp := make([]float32, len(y)); MaxPool(nil, tmp, x, batch, d); return dot(dy, tmp) }
	for i := 0; i < len(x); i += 5 {
		if g := numGrad(loss, x, i, 1e-4); math.Abs(g-float64(dx[i])) > 1e-2 {
			t.Errorf("dx[%d] = %g, finite differences %g", i, dx[i], g)
		}
	}
}

// TestLinearOps checks the backward of the ops that are linear in their
// input (global pool, fc, option A shortcut) by the adjoint identity.
func TestLinearOps(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	ws := NewWorkspace(0)
	// bwd writes dx as its GradWrite says: added to 0.5 (AddGrad) must be
	// 0.5 more than written over garbage (SetGrad).
	check := func(name string, in, out int, fwd func(y, x []float32), bwd func(dx []float32, w GradWrite, dy []float32)) {
		x, dy := randSlice(r, in), randSlice(r, out)
		y := make([]float32, out)
		fwd(y, x)
		dx := randSlice(r, in)
		bwd(dx, SetGrad, dy)
		if lhs, rhs := dot(dy, y), dot(dx, x); math.Abs(lhs-rhs) > 1e-4*math.Abs(lhs)+1e-4 {
			t.Errorf("%s: <dy, f(x)> = %g but <f^T(dy), x> = %g", name, lhs, rhs)
		}
		added := slices.Repeat([]float32{0.5}, in)
		bwd(added, AddGrad, dy)
		for i := range added {
			if added[i] != dx[i]+0.5 {
				t.Fatalf("%s: dx[%d] added to 0.5 is %g, written %g", name, i, added[i], dx[i])
			}
		}
	}
	check("avgpool", 3*5*7, 3*5, func(y, x []float32) { GlobalAvgPool(y, x, 15, 7) },
		func(dx []float32, w GradWrite, dy []float32) { GlobalAvgPoolBackward(dx, w, dy, 15, 7) })
	sd := ShortcutDims{C: 3, H: 7, W: 5, Stride: 2, OH: 4, OW: 3, Lo: 2, Hi: 1}
	check("shortcutA", 2*3*7*5, 2*6*4*3, func(y, x []float32) { ShortcutA(nil, y, x, 2, sd) },
		func(dx []float32, w GradWrite, dy []float32) { ShortcutABackward(nil, dx, w, dy, 2, sd) })
	w, b := randSlice(r, 7*11), make([]float32, 7)
	dw, db := make([]float32, len(w)), make([]float32, 7)
	check("fc", 3*11, 3*7, func(y, x []float32) { Linear(ws, y, x, w, b, 3, 11, 7) },
		func(dx []float32, gw GradWrite, dy []float32) {
			if gw == SetGrad {
				clear(dx) // LinearBackward adds
			}
			LinearBackward(ws, dx, dw, db, dy, make([]float32, 33), w, 3, 11, 7)
		})
	// Option A keeps x[:, :, ::2, ::2] in the middle channels, zeros elsewhere.
	x := randSlice(r, 3*7*5)
	y := make([]float32, 6*4*3)
	ShortcutA(nil, y, x, 1, sd)
	if y[0] != 0 || y[(2*4+1)*3+2] != x[(0*7+2)*5+4] || y[5*12] != 0 {
		t.Errorf("shortcutA layout wrong")
	}
	// A CIFAR-sized shortcut shares its images among two goroutines, with
	// the same result as one and no allocation.
	big := ShortcutDims{C: 16, H: 32, W: 31, Stride: 2, OH: 16, OW: 16, Lo: 8, Hi: 8}
	const batch = 9
	bx, bdy := randSlice(r, batch*16*32*31), randSlice(r, batch*32*256)
	want, got := make([]float32, len(bdy)), randSlice(r, len(bdy))
	wantDx, gotDx := append([]float32(nil), bx...), append([]float32(nil), bx...)
	ShortcutA(nil, want, bx, batch, big)
	ShortcutABackward(nil, wantDx, AddGrad, bdy, batch, big)
	old := SetThreads(2)
	defer SetThreads(old)
	ws2 := NewWorkspace(0)
	ShortcutA(ws2, got, bx, batch, big)
	ShortcutABackward(ws2, gotDx, AddGrad, bdy, batch, big)
	if !slices.Equal(got, want) || !slices.Equal(gotDx, wantDx) {
		t.Errorf("shortcutA shared among goroutines differs from one goroutine")
	}
	if n := testing.AllocsPerRun(3, func() { ShortcutA(ws2, got, bx, batch, big) }); n != 0 {
		t.Errorf("shortcutA: %v allocations per call", n)
	}
}

// TestLinear checks Linear against float64 sums on odd sizes, on both of
// its paths (dot products up to dotBatch() images, the GEMM above), the
// dot products in assembly (where the machine has it: dotRowsAVX512, or
// gradDotAVX2 over pairs of images; rows in blocks of 4, the last few in
// Go, rows shorter than, equal to and past a chunk) and by the Go loops,
// on one goroutine and shared among two, allocating nothing.
func TestLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	defer SetThreads(SetThreads(1))
	defer func(on bool) { useDotRowsAsm = on }(useDotRowsAsm)
	asm := []bool{false}
	if haveAVX512 || haveAVX2 {
		asm = append(asm, true)
	}
	for _, sz := range [][2]int{{1, 1}, {7, 3}, {5, 9}, {16, 8}, {17, 4}, {67, 13}, {2048, 37}, {300, 301}} {
		in, out := sz[0], sz[1]
		w, b := randSlice(r, out*in), randSlice(r, out)
		for batch := 1; batch <= linearDotBatch+2; batch++ {
			x := randSlice(r, batch*in)
			for run := range 2 * len(asm) {
				threads := 1 + run%2
				useDotRowsAsm = asm[run/2]
				SetThreads(threads)
				ws := NewWorkspace(0)
				y := randSlice(r, batch*out)
				Linear(ws, y, x, w, b, batch, in, out)
				for n := 0; n < batch; n++ {
					for j := 0; j < out; j++ {
						want, scale := float64(b[j]), math.Abs(float64(b[j]))
						for k := 0; k < in; k++ {
							p := float64(x[n*in+k]) * float64(w[j*in+k])
							want, scale = want+p, scale+math.Abs(p)
						}
						if got := float64(y[n*out+j]); math.Abs(got-want) > 1e-6*scale {
							t.Fatalf("in %d out %d batch %d, %d goroutines, asm %v: y[%d][%d] = %g, want %g", in, out, batch, threads, useDotRowsAsm, n, j, got, want)
						}
					}
				}
				if a := testing.AllocsPerRun(3, func() { Linear(ws, y, x, w, b, batch, in, out) }); a != 0 {
					t.Errorf("in %d out %d batch %d: %v allocations per call", in, out, batch, a)
				}
			}
		}
	}
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const batch, classes = 3, 5
	logits := randSlice(r, batch*classes)
	labels := []int{4, 0, 2}
	grad := make([]float32, len(logits))
	loss := SoftmaxCrossEntropy(grad, logits, labels, batch, classes)
	var want float64
	for n := 0; n < batch; n++ {
		var sum float64
		for j := 0; j < classes; j++ {
			sum += math.Exp(float64(logits[n*classes+j]))
		}
		want += -math.Log(math.Exp(float64(logits[n*classes+labels[n]])) / sum)
	}
	if want /= batch; math.Abs(loss-want) > 1e-9 {
		t.Errorf("loss %g, want %g", loss, want)
	}
	f := func() float64 {
		return SoftmaxCrossEntropy(make([]float32, len(logits)), logits, labels, batch, classes)
	}
	for i := range logits {
		if g := numGrad(f, logits, i, 1e-3); math.Abs(g-float64(grad[i])) > 1e-4 {
			t.Errorf("grad[%d] %g, finite differences %g", i, grad[i], g)
		}
	}
}

func TestSGD(t *testing.T) {
	p, g, buf := []float32{1, -2}, []float32{0.5, 0.25}, make([]float32, 2)
	SGD(p, g, buf, 0.1, 0.9, 0.01, true)
	// d = g + wd*p = (0.51, 0.23); buf = d; p -= lr*buf
	if math.Abs(float64(p[0])-(1-0.051)) > 1e-7 || math.Abs(float64(p[1])-(-2-0.023)) > 1e-7 {
		t.Errorf("first step: %v", p)
	}
	SGD(p, g, buf, 0.1, 0.9, 0.01, false)
	d0 := 0.5 + 0.01*float64(float32(1-0.051))
	if want := float64(float32(1-0.051)) - 0.1*(0.9*0.51+d0); math.Abs(float64(p[0])-want) > 1e-6 {
		t.Errorf("second step: %g, want %g", p[0], want)
	}
}

func TestReLU(t *testing.T) {
	x := []float32{-1, 0, 2, -3, 4}
	y := make([]float32, 5)
	ReLU(y, x)
	dx := []float32{1, 1, 1, 1, 1}
	ReLUBackward(dx, []float32{10, 10, 10, 10, 10}, y)
	if y[0] != 0 || y[2] != 2 || dx[0] != 1 || dx[1] != 1 || dx[2] != 11 || dx[4] != 11 {
		t.Errorf("y %v dx %v", y, dx)
	}
}

// TestConvFusedMatchesUnfused checks the inference epilogue: conv with BN
// folded into its weights, plus a residual, plus ReLU, against the separate
// kernels.
func TestConvFusedMatchesUnfused(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, d := range []ConvDims{convDims(3, 9, 7, 5, 3, 3, 1, 1), convDims(6, 7, 7, 10, 1, 1, 1, 0), convDims(5, 300, 2, 7, 3, 1, 1, 1)} {
		const batch = 2
		ws := NewWorkspace(d.ColFloats())
		x := randSlice(r, batch*d.C*d.H*d.W)
		w := randSlice(r, d.K*d.C*d.KH*d.KW)
		gamma, beta, mean := randSlice(r, d.K), randSlice(r, d.K), randSlice(r, d.K)
		variance := make([]float32, d.K)
		for i := range variance {
			variance[i] = 0.5 + float32(i)
		}
		res := randSlice(r, batch*d.K*d.OH*d.OW)
		// Unfused: conv, bn, add, relu.
		want := make([]float32, len(res))
		Conv2D(ws, want, x, w, nil, batch, d)
		BatchNormEval(want, want, gamma, beta, mean, variance, batch, d.K, d.OH*d.OW, 1e-5)
		Add(want, want, res)
		ReLU(want, want)
		fw, fb := make([]float32, len(w)), make([]float32, d.K)
		FoldBN(fw, fb, w, nil, gamma, beta, mean, variance, 1e-5)
		got := randSlice(r, len(res)) // garbage: the fused kernel must not read y
		Conv2DFused(ws, got, x, fw, nil, fb, res, true, batch, d)
		if e := maxRelErr(got, want); e > 1e-5 {
			t.Errorf("%+v: fused vs unfused max rel err %g", d, e)
		}
		// The same with the weights packed once.
		packed := NewPackedConv(d)
		packed.Pack(fw)
		got2 := randSlice(r, len(res))
		Conv2DFused(ws, got2, x, fw, packed, fb, res, true, batch, d)
		if e := maxRelErr(got2, want); e > 1e-5 {
			t.Errorf("%+v: packed weights, max rel err %g", d, e)
		}
	}
}

// TestBatchNormFused checks the fused training kernels against the separate
// BN, add and ReLU kernels, forward and backward.
func TestBatchNormFused(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	const batch, c, hw = 3, 4, 10
	for _, withRes := range []bool{false, true} {
		for _, relu := range []bool{false, true} {
			x, res, dy := randSlice(r, batch*c*hw), randSlice(r, batch*c*hw), randSlice(r, batch*c*hw)
			gamma, beta := randSlice(r, c), randSlice(r, c)
			sm, si := make([]float32, c), make([]float32, c)
			rm, rv := make([]float32, c), make([]float32, c)
			// Separate kernels.
			bn := make([]float32, len(x))
			BatchNormTrain(bn, x, gamma, beta, rm, rv, sm, si, batch, c, hw, 1e-5, 0.1)
			want := append([]float32(nil), bn...)
			if withRes {
				Add(want, want, res)
			}
			if relu {
				ReLU(want, want)
			}
			g := append([]float32(nil), dy...)
			if relu {
				g = make([]float32, len(dy))
				ReLUBackward(g, dy, want)
			}
			wantDx, wantDg, wantDb := make([]float32, len(x)), make([]float32, c), make([]float32, c)
			BatchNormBackward(wantDx, wantDg, wantDb, g, x, gamma, sm, si, batch, c, hw)
			// Fused.
			var resArg []float32
			if withRes {
				resArg = res
			}
			got := make([]float32, len(x))
			var mask []uint16
			if relu {
				mask = make([]uint16, BNMaskWords(batch, c, hw))
			}
			BatchNormTrainFused(nil, got, x, resArg, relu, mask, gamma, beta, make([]float32, c), make([]float32, c), sm, si, batch, c, hw, 1e-5, 0.1)
			if e := maxRelErr(got, want); e > 1e-6 {
				t.Errorf("res=%v relu=%v: forward err %g", withRes, relu, e)
			}
			// Gradients written over garbage.
			dx, dg, db := randSlice(r, len(x)), make([]float32, c), make([]float32, c)
			var dres []float32
			if withRes {
				dres = randSlice(r, len(x))
			}
			BatchNormFusedBackward(nil, dx, SetGrad, dres, SetGrad, dg, db, dy, x, relu, mask, gamma, sm, si, batch, c, hw)
			for _, cmp := range [][2][]float32{{dx, wantDx}, {dg, wantDg}, {db, wantDb}} {
				if e := maxRelErr(cmp[0], cmp[1]); e > 1e-5 {
					t.Errorf("res=%v relu=%v: backward err %g", withRes, relu, e)
				}
			}
			if withRes {
				if e := maxRelErr(dres, g); e > 1e-6 {
					t.Errorf("res=%v relu=%v: residual gradient err %g", withRes, relu, e)
				}
			}
		}
	}
}

// TestConvBatchSplit runs a small convolution, whose images are shared
// among goroutines, with 1, 2 and 3 of them, and checks that it allocates
// nothing once warm.
func TestConvBatchSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	d := convDims(5, 11, 9, 7, 3, 3, 1, 1)
	const batch = 7
	ws := NewWorkspace(d.ColFloats())
	x, w, bias := randSlice(r, batch*d.C*d.H*d.W), randSlice(r, d.K*d.C*d.KH*d.KW), randSlice(r, d.K)
	res := randSlice(r, batch*d.K*d.OH*d.OW)
	want := convRef(x, w, bias, batch, d)
	for i := range want {
		want[i] = max(want[i]+res[i], 0)
	}
	for _, threads := range []int{1, 2, 3} {
		old := SetThreads(threads)
		got := make([]float32, len(want))
		Conv2DFused(ws, got, x, w, nil, bias, res, true, batch, d)
		if e := maxRelErr(got, want); e > 1e-5 {
			t.Errorf("%d threads: max rel err %g", threads, e)
		}
		if n := testing.AllocsPerRun(5, func() { Conv2DFused(ws, got, x, w, nil, bias, res, true, batch, d) }); n != 0 {
			t.Errorf("%d threads: %v allocations per call", threads, n)
		}
		SetThreads(old)
	}
}

// TestConvBackwardBatchSplit compares the backward pass of a small
// convolution with its images shared among 2 and 3 goroutines against one,
// and checks that it allocates nothing once warm.
func TestConvBackwardBatchSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	d := convDims(4, 9, 8, 6, 3, 3, 2, 1)
	const batch = 7
	ws := NewWorkspace(d.ColFloats())
	x, w := randSlice(r, batch*d.C*d.H*d.W), randSlice(r, d.K*d.C*d.KH*d.KW)
	dy := randSlice(r, batch*d.K*d.OH*d.OW)
	run := func(threads int) (dx, dw, db []float32) {
		defer SetThreads(SetThreads(threads))
		dx, dw, db = randSlice(r, len(x)), randSlice(r, len(w)), randSlice(r, d.K)
		Conv2DBackward(ws, dx, SetGrad, dw, db, dy, x, w, batch, d)
		return
	}
	dx1, dw1, db1 := run(1)
	for _, threads := range []int{2, 3} {
		dx, dw, db := run(threads)
		for _, c := range [][2][]float32{{dx, dx1}, {dw, dw1}, {db, db1}} {
			if e := maxRelErr(c[0], c[1]); e > 1e-5 {
				t.Errorf("%d threads: max rel err %g", threads, e)
			}
		}
		old := SetThreads(threads)
		if n := testing.AllocsPerRun(5, func() { Conv2DBackward(ws, dx, SetGrad, dw, db, dy, x, w, batch, d) }); n != 0 {
			t.Errorf("%d threads: %v allocations per call", threads, n)
		}
		SetThreads(old)
	}
}

// TestBatchNormChannelSplit runs the fused batch norm, forward and
// backward, with its channels shared among 2 and 3 goroutines, against one.
func TestBatchNormChannelSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	const batch, c, hw = 4, 37, 500 // 74,000 elements: above minParallelElems
	ws := NewWorkspace(0)
	x, res, dy := randSlice(r, batch*c*hw), randSlice(r, batch*c*hw), randSlice(r, batch*c*hw)
	gamma, beta := randSlice(r, c), randSlice(r, c)
	run := func(w *Workspace) [][]float32 {
		y, sm, si, rm, rv := make([]float32, len(x)), make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
		mask := make([]uint16, BNMaskWords(batch, c, hw))
		BatchNormTrainFused(w, y, x, res, true, mask, gamma, beta, rm, rv, sm, si, batch, c, hw, 1e-5, 0.1)
		dx, dres, dg, db := make([]float32, len(x)), make([]float32, len(x)), make([]float32, c), make([]float32, c)
		BatchNormFusedBackward(w, dx, AddGrad, dres, SetGrad, dg, db, dy, x, true, mask, gamma, sm, si, batch, c, hw)
		return [][]float32{y, rm, rv, dx, dres, dg, db}
	}
	want := run(nil)
	for _, threads := range []int{2, 3} {
		old := SetThreads(threads)
		got := run(ws)
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("%d threads: result %d differs", threads, i)
			}
		}
		y := make([]float32, len(x))
		sm, si := make([]float32, c), make([]float32, c)
		mask := make([]uint16, BNMaskWords(batch, c, hw))
		if n := testing.AllocsPerRun(5, func() {
			BatchNormTrainFused(ws, y, x, res, true, mask, gamma, beta, sm, si, sm, si, batch, c, hw, 1e-5, 0.1)
		}); n != 0 {
			t.Errorf("%d threads: %v allocations per call", threads, n)
		}
		SetThreads(old)
	}
}

// TestConvRowBlocks checks a convolution whose image's columns im2col
// gathers a block of output rows at a time (a stem-like 7x7 stride-2 conv
// and a stride-2 3x3 one, blocks that end inside the image and padding at
// both ends) against the float64 reference, at batch 1 (blocks shared
// among goroutines), 2 (images shared) and 3 (each image's GEMM shared),
// with bias, residual and ReLU, packed weights or not, allocating nothing.
func TestConvRowBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, d := range []ConvDims{convDims(3, 101, 93, 16, 7, 7, 2, 3), convDims(40, 61, 58, 13, 3, 3, 2, 1), convDims(9, 150, 133, 5, 3, 3, 1, 1)} {
		if rows := d.im2colBlockRows(); d.rowRanges() && rows >= d.OH {
			t.Fatalf("%+v: %d rows a block, the test wants several blocks", d, rows)
		}
		packed := NewPackedConv(d)
		w, bias := randSlice(r, d.K*d.C*d.KH*d.KW), randSlice(r, d.K)
		packed.Pack(w)
		for _, batch := range []int{1, 2, 3} {
			x := randSlice(r, batch*d.C*d.H*d.W)
			res := randSlice(r, batch*d.K*d.OH*d.OW)
			want := convRef(x, w, bias, batch, d)
			for i := range want {
				want[i] = max(want[i]+res[i], 0)
			}
			for _, threads := range []int{1, 2} {
				old := SetThreads(threads)
				ws := NewWorkspace(d.ColFloats())
				for _, p := range []*PackedConv{nil, packed} {
					got := randSlice(r, len(want))
					Conv2DFused(ws, got, x, w, p, bias, res, true, batch, d)
					if e := maxRelErr(got, want); e > 1e-5 {
						t.Errorf("%+v batch %d, %d threads, packed %v: max rel err %g", d, batch, threads, p != nil, e)
					}
				}
				y := make([]float32, len(want))
				if n := testing.AllocsPerRun(3, func() { Conv2DFused(ws, y, x, w, packed, bias, res, true, batch, d) }); n != 0 {
					t.Errorf("%+v: %v allocations", d, n)
				}
				SetThreads(old)
			}
		}
	}
}

// convWeightGradRef is the weight gradient in float64: the sum over images
// and output positions of dy times the input under each tap.
func convWeightGradRef(dy, x []float32, batch int, d ConvDims) []float32 {
	dw := make([]float32, d.K*d.C*d.KH*d.KW)
	for k := 0; k < d.K; k++ {
		for c := 0; c < d.C; c++ {
			for kh := 0; kh < d.KH; kh++ {
				for kw := 0; kw < d.KW; kw++ {
					var s float64
					for n := 0; n < batch; n++ {
						for oh := 0; oh < d.OH; oh++ {
							for ow := 0; ow < d.OW; ow++ {
								ih, iw := oh*d.Stride-d.Pad+kh, ow*d.Stride-d.Pad+kw
								if ih >= 0 && ih < d.H && iw >= 0 && iw < d.W {
									s += float64(dy[((n*d.K+k)*d.OH+oh)*d.OW+ow]) * float64(x[((n*d.C+c)*d.H+ih)*d.W+iw])
								}
							}
						}
					}
					dw[((k*d.C+c)*d.KH+kh)*d.KW+kw] = float32(s)
				}
			}
		}
	}
	return dw
}

// TestConvWeightGradDots checks the weight gradient of im2col and direct
// convolutions against float64 sums, where it is by dot products
// (dotWeightGrad) and where it is not: columns padded to rows of 4 (the
// CIFAR stem) or not, a direct convolution, K not a multiple of 4, a
// batch whose images are shared among goroutines, and a large convolution
// whose rows of dW are shared instead. Garbage in dw must be overwritten.
func TestConvWeightGradDots(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for _, s := range []struct {
		d     ConvDims
		batch int
		dots  bool
	}{
		{convDims(3, 13, 11, 16, 3, 3, 1, 1), 3, true},    // 27 rows of columns, padded to 28
		{convDims(4, 17, 19, 8, 3, 3, 2, 1), 2, true},     // 36 rows
		{convDims(8, 9, 9, 12, 1, 1, 1, 0), 3, true},      // direct
		{convDims(6, 9, 9, 12, 1, 1, 1, 0), 2, false},     // direct, C not a multiple of 4
		{convDims(6, 17, 17, 12, 1, 1, 2, 0), 2, true},    // 1x1 at stride 2: im2col, 6 rows padded to 8
		{convDims(3, 9, 9, 6, 3, 3, 1, 1), 2, false},      // K not a multiple of 4
		{convDims(4, 9, 10, 8, 3, 3, 2, 1), 2, false},     // dot products of 25
		{convDims(64, 17, 17, 8, 3, 3, 1, 1), 2, false},   // columns past the cache
		{convDims(16, 16, 16, 256, 3, 3, 1, 1), 1, true},  // rows of dW shared
		{convDims(5, 19, 23, 20, 5, 5, 2, 2), 5, true},    // images shared
		{convDims(128, 16, 17, 256, 1, 1, 1, 0), 2, true}, // direct, rows shared
	} {
		d := s.d // LowerAuto: the 1x1 ones direct, the others im2col
		if d.dotWeightGrad() != (s.dots && gradDotAsm(4, 4)) {
			t.Fatalf("%+v: dotWeightGrad %v", d, d.dotWeightGrad())
		}
		x, w := randSlice(r, s.batch*d.C*d.H*d.W), randSlice(r, d.K*d.C*d.KH*d.KW)
		dy := randSlice(r, s.batch*d.K*d.OH*d.OW)
		want := convWeightGradRef(dy, x, s.batch, d)
		for _, threads := range []int{1, 2} {
			old := SetThreads(threads)
			ws := NewWorkspace(d.ColFloats())
			dw := randSlice(r, len(w))
			Conv2DBackward(ws, nil, SetGrad, dw, nil, dy, x, w, s.batch, d)
			if e := maxRelErr(dw, want); e > 2e-6 {
				t.Errorf("%+v batch %d, %d threads: dw max rel err %g", d, s.batch, threads, e)
			}
			if n := testing.AllocsPerRun(2, func() { Conv2DBackward(ws, nil, SetGrad, dw, nil, dy, x, w, s.batch, d) }); n != 0 {
				t.Errorf("%+v batch %d, %d threads: %v allocations per call", d, s.batch, threads, n)
			}
			SetThreads(old)
		}
	}
}

// BenchmarkLinear times resnet50's fc (2048 to 1000) both ways at 1 to 8
// images: one dot product per output (what Linear does up to
// linearDotBatch images) and the GEMM that packs Wᵀ (beyond).
func BenchmarkLinear(b *testing.B) {
	const in, out = 2048, 1000
	r := rand.New(rand.NewPCG(27, 28))
	w, bias := randSlice(r, in*out), randSlice(r, out)
	ws := NewWorkspace(0)
	for _, batch := range []int{1, 2, 4, 8} {
		x, y := randSlice(r, batch*in), make([]float32, batch*out)
		b.Run(fmt.Sprintf("dots/batch%d", batch), func(b *testing.B) {
			nt := threadCount()
			for i := 0; i < b.N; i++ {
				ws.linear = linearTask{y: y, x: x, w: w, b: bias, batch: batch, in: in, out: out}
				shareRange(ws, &ws.linear, out, nt)
			}
		})
		b.Run(fmt.Sprintf("gemm/batch%d", batch), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				Gemm(ws, false, true, batch, out, in, x, in, w, in, 0, y, out)
			}
		})
	}
}

// TestConvImageGroups checks the im2col convs of small outputs that put
// several images' columns side by side in one GEMM (convImageGroups)
// against the float64 reference: odd output sizes, strides 1 and 2, 1x1
// and 3x3, batches that leave a short last group, with bias and ReLU, on
// one goroutine and two, in a scratch large enough to group them (the
// generated code's is the largest conv's).
func TestConvImageGroups(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	tested := 0
	for _, d := range []ConvDims{
		convDims(5, 14, 14, 12, 3, 3, 2, 1), // 7x7 out, stride 2
		convDims(6, 13, 11, 7, 3, 3, 1, 1),  // 13x11: 143 positions
		convDims(9, 10, 9, 16, 1, 1, 2, 0),  // a stride-2 1x1 by im2col
		convDims(3, 5, 4, 5, 3, 3, 1, 0),    // 3x2
	} {
		if !d.rowRanges() {
			continue // one image a GEMM: no row kernels for it in this build
		}
		tested++
		for _, batch := range []int{2, 7} {
			for _, threads := range []int{1, 2} {
				old := SetThreads(threads)
				ws := NewWorkspace(64 * d.ColFloats())
				if g := d.imagesPerGEMM(batch, len(ws.Col)); g < 2 {
					t.Fatalf("%+v: %d images a GEMM; the test means several", d, g)
				}
				x, w, bias := randSlice(r, batch*d.C*d.H*d.W), randSlice(r, d.K*d.C*d.KH*d.KW), randSlice(r, d.K)
				y := randSlice(r, batch*d.K*d.OH*d.OW) // garbage, overwritten
				Conv2DFused(ws, y, x, w, nil, bias, nil, true, batch, d)
				want := convRef(x, w, bias, batch, d)
				for i := range want {
					want[i] = max(want[i], 0)
				}
				if e := maxRelErr(y, want); e > 1e-5 {
					t.Errorf("%+v batch %d, %d threads: max rel err %g", d, batch, threads, e)
				}
				if n := testing.AllocsPerRun(3, func() { Conv2DFused(ws, y, x, w, nil, bias, nil, true, batch, d) }); n != 0 {
					t.Errorf("%+v batch %d, %d threads: %v allocations", d, batch, threads, n)
				}
				SetThreads(old)
			}
		}
	}
	if tested == 0 {
		t.Skip("no row kernels in this build: one image a GEMM")
	}
}

// TestIm2colShared checks that im2col with its channels shared among 2 and
// 3 goroutines writes every value im2col writes alone, on the row kernels
// and the Go loops (a 9x9 kernel), odd channel counts and strides, and
// that a batch-1 convolution of each shape matches the reference and
// allocates nothing once warm: all but the stride-1 one take the image
// whole and gather it so (the stride-1 one shares blocks of rows).
func TestIm2colShared(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, d := range []ConvDims{convDims(17, 45, 43, 13, 3, 3, 2, 1), convDims(5, 61, 59, 7, 9, 9, 2, 4), convDims(31, 29, 27, 37, 3, 3, 1, 1), convDims(257, 31, 33, 29, 1, 1, 2, 0)} {
		n := d.C * d.KH * d.KW * d.OH * d.OW
		if n < minSharedIm2col {
			t.Fatalf("%+v: %d columns, below minSharedIm2col: the test would not share them", d, n)
		}
		x := randSlice(r, d.C*d.H*d.W)
		want := slices.Repeat([]float32{7}, n)
		im2col(want, x, d)
		for _, threads := range []int{2, 3} {
			old := SetThreads(threads)
			ws := NewWorkspace(0)
			got := slices.Repeat([]float32{7}, n) // every value must be written
			im2colShared(ws, got, x, d)
			if !slices.Equal(got, want) {
				t.Errorf("%+v, %d threads: shared im2col differs from im2col", d, threads)
			}
			w, bias := randSlice(r, d.K*d.C*d.KH*d.KW), randSlice(r, d.K)
			packed := NewPackedConv(d)
			packed.Pack(w)
			ref := convRef(x, w, bias, 1, d)
			for i := range ref {
				ref[i] = max(ref[i], 0)
			}
			ws = NewWorkspace(d.ColFloats())
			y := randSlice(r, len(ref))
			Conv2DFused(ws, y, x, w, packed, bias, nil, true, 1, d)
			if e := maxRelErr(y, ref); e > 1e-5 {
				t.Errorf("%+v, %d threads: max rel err %g", d, threads, e)
			}
			if a := testing.AllocsPerRun(3, func() { Conv2DFused(ws, y, x, w, packed, bias, nil, true, 1, d) }); a != 0 {
				t.Errorf("%+v, %d threads: %v allocations", d, threads, a)
			}
			SetThreads(old)
		}
	}
}
