package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// relDiff is the relative L2 distance of got from want.
func relDiff(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / max(den, 1e-30))
}

// TestBatchNormKernelsMatchGo runs the train-mode batch norm, forward and
// backward, with every fusion, through the assembly kernels (AVX-512, else
// AVX2) and through the Go loops, on rows of odd lengths (kernel prefix and Go tail both) and of
// multiples of 16 (an image's rows of a block of channels in one call;
// at 16, 67 channels: a block of 64 and one of 3), and requires the same
// results: the sums are float64 in both, so the
// statistics agree to float64 rounding; the kernels' elementwise work is
// float32 where the Go loops' backward is float64, hence 1e-6 there.
func TestBatchNormKernelsMatchGo(t *testing.T) {
	if !haveBNAsm {
		t.Skip("no batch-norm kernels in assembly on this machine or build")
	}
	defer func() { useBNAsm = haveBNAsm }()
	r := rand.New(rand.NewPCG(4, 5))
	for _, hw := range []int{1, 15, 16, 17, 31, 49, 64, 67, 196} {
		for _, batch := range []int{1, 3} {
			for fuse := range 4 {
				c := 3
				if hw == 16 {
					c = 67
				}
				relu, withRes := fuse&1 != 0, fuse&2 != 0
				name := fmt.Sprintf("hw%d/batch%d/relu=%v/res=%v", hw, batch, relu, withRes)
				n := batch * c * hw
				x := randSlice(r, n)
				for i := range x {
					x[i] = 3 + 2*x[i] // a mean well away from 0
				}
				var res []float32
				if withRes {
					res = randSlice(r, n)
				}
				gamma, beta, dy := randSlice(r, c), randSlice(r, c), randSlice(r, n)
				type out struct {
					y, runMean, runVar, mean, invStd, dx, dres, dgamma, dbeta []float32
					mask                                                      []uint16
				}
				// The gradients go into buffers that hold 0.5 and -0.25,
				// added to (AddGrad) or overwritten (SetGrad).
				run := func(asm bool, write GradWrite) out {
					useBNAsm = asm
					o := out{y: make([]float32, n), runMean: make([]float32, c), runVar: slices.Repeat([]float32{1}, c),
						mean: make([]float32, c), invStd: make([]float32, c), dx: slices.Repeat([]float32{0.5}, n),
						dgamma: make([]float32, c), dbeta: make([]float32, c)}
					if relu {
						o.mask = slices.Repeat([]uint16{0xa5a5}, BNMaskWords(batch, c, hw)) // garbage, all overwritten
					}
					BatchNormTrainFused(nil, o.y, x, res, relu, o.mask, gamma, beta, o.runMean, o.runVar, o.mean, o.invStd, batch, c, hw, 1e-5, 0.1)
					if withRes {
						o.dres = slices.Repeat([]float32{-0.25}, n)
					}
					BatchNormFusedBackward(nil, o.dx, write, o.dres, write, o.dgamma, o.dbeta, dy, x, relu, o.mask, gamma, o.mean, o.invStd, batch, c, hw)
					return o
				}
				shift := func(v []float32, by float32) []float32 {
					out := slices.Clone(v)
					for i := range out {
						out[i] += by
					}
					return out
				}
				g, a := run(false, AddGrad), run(true, AddGrad)
				gs, as := run(false, SetGrad), run(true, SetGrad)
				if !slices.Equal(a.mask, g.mask) {
					t.Errorf("%s: the ReLU masks differ: %x, want %x", name, a.mask, g.mask)
				}
				if relu {
					// Each bit says whether y passed the ReLU; the bits past a
					// row's end are 0.
					words := (hw + 15) / 16
					for i, v := range g.y {
						row, at := i/hw, i%hw
						if bit := g.mask[row*words+at/16]>>(at%16)&1 == 1; bit != (v > 0) {
							t.Fatalf("%s: mask bit of y[%d] = %g is %v", name, i, v, bit)
						}
					}
					for row := range batch * c {
						if hw%16 != 0 && g.mask[row*words+words-1]>>(hw%16) != 0 {
							t.Fatalf("%s: row %d's mask has bits past its end: %x", name, row, g.mask[row*words+words-1])
						}
					}
				}
				for _, f := range []struct {
					what      string
					got, want []float32
					tol       float64
				}{
					{"y", a.y, g.y, 1e-7}, {"running mean", a.runMean, g.runMean, 1e-7}, {"running var", a.runVar, g.runVar, 1e-7},
					{"saved mean", a.mean, g.mean, 1e-7}, {"saved 1/std", a.invStd, g.invStd, 1e-7},
					{"dgamma", a.dgamma, g.dgamma, 1e-6}, {"dbeta", a.dbeta, g.dbeta, 1e-6},
					{"dx", a.dx, g.dx, 1e-6}, {"dresidual", a.dres, g.dres, 0},
					{"dx overwritten", as.dx, gs.dx, 1e-6}, {"dresidual overwritten", as.dres, gs.dres, 0},
					{"dx overwritten, plus 0.5", shift(as.dx, 0.5), a.dx, 1e-6},
					{"dresidual overwritten, minus 0.25", shift(as.dres, -0.25), a.dres, 0},
				} {
					if e := relDiff(f.got, f.want); e > f.tol || len(f.got) != len(f.want) {
						t.Errorf("%s: %s differs by %.2g (relative), above %g", name, f.what, e, f.tol)
					}
				}
			}
		}
	}
}

// BenchmarkBatchNorm times the train-mode batch norm, forward and
// backward, with the residual and the ReLU, at ResNet-20's three stages
// and 128 images; GB/s counts the values each pass reads and writes.
func BenchmarkBatchNorm(b *testing.B) {
	for _, s := range []struct{ batch, c, hw int }{{128, 16, 1024}, {128, 32, 256}, {128, 64, 64}} {
		r := rand.New(rand.NewPCG(1, 2))
		n := s.batch * s.c * s.hw
		x, res, y := randSlice(r, n), randSlice(r, n), make([]float32, n)
		dy, dx, dres := randSlice(r, n), make([]float32, n), make([]float32, n)
		gamma, beta := randSlice(r, s.c), randSlice(r, s.c)
		runMean, runVar, mean, invStd := make([]float32, s.c), slices.Repeat([]float32{1}, s.c), make([]float32, s.c), make([]float32, s.c)
		dgamma, dbeta := make([]float32, s.c), make([]float32, s.c)
		mask := make([]uint16, BNMaskWords(s.batch, s.c, s.hw))
		ws := NewWorkspace(0)
		shape := fmt.Sprintf("%dx%dx%d", s.c, s.hw, s.batch)
		b.Run("forward/"+shape, func(b *testing.B) {
			for b.Loop() {
				BatchNormTrainFused(ws, y, x, res, true, mask, gamma, beta, runMean, runVar, mean, invStd, s.batch, s.c, s.hw, 1e-5, 0.1)
			}
			// Two reads of x, one of res, a write of y.
			b.ReportMetric(float64(4*4*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
		b.Run("backward/"+shape, func(b *testing.B) {
			for b.Loop() {
				BatchNormFusedBackward(ws, dx, SetGrad, dres, SetGrad, dgamma, dbeta, dy, x, true, mask, gamma, mean, invStd, s.batch, s.c, s.hw)
			}
			// Two reads of dy and of x, writes of dx and dres.
			b.ReportMetric(float64(6*4*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

// TestReLUKeepsNaN: a NaN reaching a fused ReLU stays NaN, in the batch
// norm's kernels and in the GEMM's epilogue, as in PyTorch, so a diverged
// step is seen as one rather than hidden as zeros.
func TestReLUKeepsNaN(t *testing.T) {
	const batch, c, hw = 1, 1, 32
	x := make([]float32, hw)
	for i := range x {
		x[i] = float32(i % 5)
	}
	x[3] = float32(math.NaN())
	y := make([]float32, hw)
	one := []float32{1}
	mask := make([]uint16, BNMaskWords(batch, c, hw))
	BatchNormTrainFused(nil, y, x, nil, true, mask, one, []float32{0}, make([]float32, 1), one, make([]float32, 1), make([]float32, 1), batch, c, hw, 1e-5, 0.1)
	if !math.IsNaN(float64(y[3])) {
		t.Errorf("batch norm + ReLU turned a NaN into %v", y[3])
	}
	if mask[0]>>3&1 == 0 {
		t.Errorf("the ReLU mask stopped a NaN: %x", mask)
	}
	dy := make([]float32, hw)
	dy[5] = float32(math.NaN())
	dx, dg, db := make([]float32, hw), make([]float32, 1), make([]float32, 1)
	BatchNormFusedBackward(nil, dx, SetGrad, nil, SetGrad, dg, db, dy, x, true, slices.Repeat([]uint16{0xffff}, 2), one, []float32{0}, one, batch, c, hw)
	if !math.IsNaN(float64(db[0])) {
		t.Errorf("the backward ReLU mask dropped a NaN gradient: dbeta %v", db[0])
	}

	const m, n, k = 13, 37, 5
	r := rand.New(rand.NewPCG(1, 1))
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	a[2*k+1] = float32(math.NaN()) // row 2 of C
	cm := make([]float32, m*n)
	GemmEpilogue(NewWorkspace(0), false, false, m, n, k, a, k, b, n, 0, cm, n, &Epilogue{ReLU: true})
	for j := 0; j < n; j++ {
		if !math.IsNaN(float64(cm[2*n+j])) {
			t.Fatalf("GEMM + ReLU: C[2][%d] = %v, want NaN", j, cm[2*n+j])
		}
	}
}

// TestIm2colKernelsMatchGo compares the row kernels of im2col and col2im
// (contiguous for stride 1, permutes for stride 2, gathers and scatters
// above; with AVX2 only the stride-2 gather) with the Go loops over odd
// sizes, strides 1 to 3, paddings wider than the kernel's reach, rows
// wider than one chunk and a channel count above 1.
func TestIm2colKernelsMatchGo(t *testing.T) {
	if !haveAVX512 && !haveAVX2 {
		t.Skip("no im2col kernels in assembly on this machine or build")
	}
	defer func() { useShiftAsm, useIm2colAVX2 = haveAVX512, haveAVX2 && !haveAVX512 }()
	r := rand.New(rand.NewPCG(8, 9))
	for _, hw := range [][2]int{{1, 1}, {5, 3}, {7, 17}, {16, 16}, {9, 33}, {3, 67}, {4, 61}} {
		for _, k := range [][2]int{{1, 1}, {3, 3}, {1, 5}, {7, 7}, {2, 3}} {
			for pad := 0; pad <= 3; pad++ {
				for stride := 1; stride <= 3; stride++ {
					d := ConvDims{C: 2, H: hw[0], W: hw[1], K: 1, KH: k[0], KW: k[1], Stride: stride, Pad: pad}
					if d.H+2*pad < d.KH || d.W+2*pad < d.KW {
						continue
					}
					d.OH, d.OW = (d.H+2*pad-d.KH)/stride+1, (d.W+2*pad-d.KW)/stride+1
					x := randSlice(r, d.C*d.H*d.W)
					n := d.C * d.KH * d.KW * d.OH * d.OW
					colIn := randSlice(r, n)
					// col2im adds to what dx holds: values and negative zeros,
					// which a float that no tap reaches must keep.
					back0 := randSlice(r, len(x))
					for i := 0; i < len(back0); i += 3 {
						back0[i] = float32(math.Copysign(0, -1))
					}
					run := func(asm bool) (col, back []float32) {
						useShiftAsm, useIm2colAVX2 = asm && haveAVX512, asm && haveAVX2 && !haveAVX512
						col = slices.Repeat([]float32{7}, n) // every value must be written
						im2col(col, x, d)
						back = slices.Clone(back0)
						col2im(back, colIn, d)
						return col, back
					}
					gc, gb := run(false)
					ac, ab := run(true)
					if !slices.Equal(ac, gc) {
						t.Errorf("%+v: im2col differs from the Go loops", d)
					}
					same := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }
					if !slices.EqualFunc(ab, gb, same) {
						t.Errorf("%+v: col2im differs from the Go loops", d)
					}
					// And the Go loops from the definition, tap by tap in
					// col2im's order.
					want := slices.Clone(back0)
					ohw := d.OH * d.OW
					for c := range d.C {
						for kh := range d.KH {
							for kw := range d.KW {
								for oh := range d.OH {
									for ow := range d.OW {
										ih, iw := oh*stride-pad+kh, ow*stride-pad+kw
										if ih >= 0 && ih < d.H && iw >= 0 && iw < d.W {
											want[(c*d.H+ih)*d.W+iw] += colIn[((c*d.KH+kh)*d.KW+kw)*ohw+oh*d.OW+ow]
										}
									}
								}
							}
						}
					}
					if !slices.EqualFunc(gb, want, same) {
						t.Errorf("%+v: col2im's Go loops differ from the definition", d)
					}
				}
			}
		}
	}
}

// TestTransposePack checks packB's transposed case (and its plain one), register transposes
// and the scalar rest, against the definition, for panel depths around
// multiples of 16, row strides wider than the panel and a block of B
// that starts inside it.
func TestTransposePack(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	_, nr0 := tileShape()
	for _, kc := range []int{1, 15, 16, 17, 31, 32, 48, 67, 256} {
		for _, ldb := range []int{kc + 3, kc + 8} {
			const nc, pc, jc = 2*32 + 21, 3, 32 // two full panels and an edge of 21
			b := randSlice(r, (nc+jc)*ldb)
			got := make([]float32, (nc+nr0)*kc)
			packB(got, true, b, ldb, pc, jc, kc, nc, nr0)
			// The plain case over the same numbers: B's rows are k.
			plain := make([]float32, (nc+nr0)*kc)
			bt := randSlice(r, (pc+kc)*(jc+nc+2))
			packB(plain, false, bt, jc+nc+2, pc, jc, kc, nc, nr0)
			for jr := 0; jr < nc; jr += nr0 {
				for p := 0; p < kc; p++ {
					for j := 0; j < nr0; j++ {
						want := float32(0)
						if jr+j < nc {
							want = bt[(pc+p)*(jc+nc+2)+jc+jr+j]
						}
						if plain[jr*kc+p*nr0+j] != want {
							t.Fatalf("plain, kc %d: panel %d, p %d, column %d: %v, want %v", kc, jr/nr0, p, j, plain[jr*kc+p*nr0+j], want)
						}
					}
				}
			}
			for jr := 0; jr < nc; jr += nr0 {
				for p := 0; p < kc; p++ {
					for j := 0; j < nr0; j++ {
						want := float32(0)
						if jr+j < nc {
							want = b[(jc+jr+j)*ldb+pc+p]
						}
						if got[jr*kc+p*nr0+j] != want {
							t.Fatalf("kc %d, ldb %d: panel %d, p %d, column %d: %v, want %v", kc, ldb, jr/nr0, p, j, got[jr*kc+p*nr0+j], want)
						}
					}
				}
			}
		}
	}
}

// TestTransposePackA checks packA's plain case, register transposes, the
// scalar rest and an edge panel, against the definition.
func TestTransposePackA(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 7))
	mr0, _ := tileShape()
	for _, kc := range []int{1, 15, 16, 17, 33, 67, 256} {
		for _, mc := range []int{mr0, 2*mr0 + 5} {
			const ic, pc = 2, 3
			lda := pc + kc + 4
			a := randSlice(r, (ic+mc)*lda)
			got := make([]float32, (mc+mr0)*kc)
			packA(got, false, a, lda, ic, pc, mc, kc, mr0)
			for ir := 0; ir < mc; ir += mr0 {
				for p := 0; p < kc; p++ {
					for i := 0; i < mr0; i++ {
						want := float32(0)
						if ir+i < mc {
							want = a[(ic+ir+i)*lda+pc+p]
						}
						if g := got[ir*kc+p*mr0+i]; g != want {
							t.Fatalf("kc %d, mc %d: panel %d, p %d, row %d: %v, want %v", kc, mc, ir/mr0, p, i, g, want)
						}
					}
				}
			}
		}
	}
}

// TestMaxPoolSeparable compares the separable max pooling with the
// window scan that the backward pass uses, on odd sizes, strides and
// paddings, with a NaN in some planes.
func TestMaxPoolSeparable(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 1))
	for _, hw := range [][2]int{{1, 1}, {5, 7}, {8, 8}, {13, 3}, {112, 112}} {
		for _, k := range []int{1, 2, 3} {
			for s := 1; s <= 2; s++ {
				for pad := 0; 2*pad <= k; pad++ {
					d := PoolDims{C: 3, H: hw[0], W: hw[1], KH: k, KW: k, Stride: s, Pad: pad}
					d.OH, d.OW = (d.H+2*pad-k)/s+1, (d.W+2*pad-k)/s+1
					if d.H+2*pad < k || d.W+2*pad < k {
						continue
					}
					x := randSlice(r, 2*d.C*d.H*d.W)
					x[r.IntN(len(x))] = float32(math.NaN())
					got := make([]float32, 2*d.C*d.OH*d.OW)
					MaxPool(nil, got, x, 2, d)
					for p := 0; p < 2*d.C; p++ {
						plane := x[p*d.H*d.W : (p+1)*d.H*d.W]
						for i := 0; i < d.OH*d.OW; i++ {
							want, g := plane[argmaxWindow(plane, d, i/d.OW, i%d.OW)], got[p*d.OH*d.OW+i]
							if want != g && !(want != want && g != g) {
								t.Fatalf("%+v: plane %d, output %d: %v, want %v", d, p, i, g, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestMaxPoolAsm checks the pooling kernels (AVX-512, else AVX2) against
// the Go loops bit for bit (NaNs, ties of +0 and -0, and -Inf inputs
// included) over rows of 1 to 70 columns, windows of 1 to 3, strides 1
// and 2, and resnet's pooling with its planes split among goroutines.
func TestMaxPoolAsm(t *testing.T) {
	if !haveAVX512 && !haveAVX2 {
		t.Skip("no pooling kernels in assembly in this build")
	}
	defer func() { useShiftAsm, usePoolAVX2 = haveAVX512, haveAVX2 && !haveAVX512 }()
	r := rand.New(rand.NewPCG(4, 1))
	special := []float32{float32(math.NaN()), 0, float32(math.Copysign(0, -1)), float32(math.Inf(-1)), float32(math.Inf(1))}
	same := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }
	for w := 1; w <= 70; w += 3 {
		for k := 1; k <= 3; k++ {
			for s := 1; s <= 2; s++ {
				for pad := 0; 2*pad <= k; pad++ {
					d := PoolDims{C: 3, H: 1 + r.IntN(9), W: w, KH: k, KW: k, Stride: s, Pad: pad}
					if d.H+2*pad < k || d.W+2*pad < k {
						continue
					}
					d.OH, d.OW = (d.H+2*pad-k)/s+1, (d.W+2*pad-k)/s+1
					const batch = 2
					x := randSlice(r, batch*d.C*d.H*d.W)
					for range 1 + len(x)/8 {
						x[r.IntN(len(x))] = special[r.IntN(len(special))]
					}
					var got [2][]float32
					for i, asm := range []bool{false, true} {
						useShiftAsm, usePoolAVX2 = asm && haveAVX512, asm && haveAVX2 && !haveAVX512
						got[i] = randSlice(r, batch*d.C*d.OH*d.OW)
						MaxPool(nil, got[i], x, batch, d)
					}
					if !slices.EqualFunc(got[0], got[1], same) {
						t.Fatalf("%+v: the kernels differ from the Go loops", d)
					}
				}
			}
		}
	}
	// resnet's pooling, large enough to share its planes among two
	// goroutines, against one.
	d := PoolDims{C: 64, H: 112, W: 112, KH: 3, KW: 3, Stride: 2, Pad: 1, OH: 56, OW: 56}
	x := randSlice(r, d.C*d.H*d.W)
	x[r.IntN(len(x))] = float32(math.NaN())
	want, got := make([]float32, d.C*d.OH*d.OW), make([]float32, d.C*d.OH*d.OW)
	MaxPool(nil, want, x, 1, d)
	old := SetThreads(2)
	defer SetThreads(old)
	ws := NewWorkspace(0)
	MaxPool(ws, got, x, 1, d)
	if !slices.EqualFunc(got, want, same) {
		t.Errorf("planes split among goroutines differ from one goroutine's")
	}
	if n := testing.AllocsPerRun(3, func() { MaxPool(ws, got, x, 1, d) }); n != 0 {
		t.Errorf("%v allocations per call", n)
	}
}

// TestConvLoweringChoice: the lowering ConvDims states is the one used. A
// 1x1 conv gathered through im2col gives what its direct product gives;
// asking a 3x3 conv for the direct lowering is refused loudly, since it
// would read the input as the wrong matrix.
func TestConvLoweringChoice(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	d := ConvDims{C: 5, H: 7, W: 9, K: 3, KH: 1, KW: 1, Stride: 1, OH: 7, OW: 9}
	x, w := randSlice(r, 2*d.C*d.H*d.W), randSlice(r, d.K*d.C)
	direct, gathered := make([]float32, 2*d.K*d.OH*d.OW), make([]float32, 2*d.K*d.OH*d.OW)
	d.Lowering = LowerDirect
	Conv2D(NewWorkspace(0), direct, x, w, nil, 2, d)
	d.Lowering = LowerIm2col
	Conv2D(NewWorkspace(d.ColFloats()), gathered, x, w, nil, 2, d)
	if !slices.Equal(direct, gathered) {
		t.Errorf("a 1x1 conv lowered by im2col differs from its direct product")
	}
	defer func() {
		if recover() == nil {
			t.Errorf("a 3x3 conv lowered direct ran")
		}
	}()
	d3 := ConvDims{C: 1, H: 3, W: 3, K: 1, KH: 3, KW: 3, Stride: 1, OH: 1, OW: 1, Lowering: LowerDirect}
	Conv2D(NewWorkspace(0), make([]float32, 1), make([]float32, 9), make([]float32, 9), nil, 1, d3)
}

// TestConvPackedColumns runs convolutions whose columns im2colPacked
// writes straight into the GEMM's panels (output rows of 32, and of 16
// and 8 that share a panel, strides 1 and 2, padded and not, padding
// wider than the kernel's reach, K over one block of 256, a packed A or
// not) against the
// float64 reference, with the whole epilogue, and checks that one thread
// and several agree and that nothing is allocated.
func TestConvPackedColumns(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, c := range []struct{ c, hw, k, kh, s, p int }{
		{3, 32, 16, 3, 1, 1}, {16, 32, 16, 3, 1, 1}, {33, 32, 5, 3, 1, 1}, {33, 64, 5, 3, 2, 1},
		{7, 64, 9, 1, 2, 0}, {5, 33, 3, 2, 1, 0}, {2, 64, 3, 5, 2, 2}, {1, 32, 1, 7, 1, 3}, {4, 30, 3, 3, 1, 2},
		{32, 16, 32, 3, 1, 1}, {64, 8, 64, 3, 1, 1}, {5, 6, 7, 3, 1, 2}, {3, 16, 2, 3, 1, 1}, {2, 10, 3, 3, 1, 0},
	} {
		d := convDims(c.c, c.hw, c.hw, c.k, c.kh, c.kh, c.s, c.p)
		if !d.packsDirect() || d.direct() {
			if haveAVX512 {
				t.Fatalf("%+v: not a shape of the packed path", d)
			}
			continue
		}
		const batch = 3
		ws := NewWorkspace(d.ColFloats())
		x, w, bias := randSlice(r, batch*d.C*d.H*d.W), randSlice(r, d.K*d.C*d.KH*d.KW), randSlice(r, d.K)
		res := randSlice(r, batch*d.K*d.OH*d.OW)
		want := convRef(x, w, bias, batch, d)
		for i := range want {
			want[i] = max(want[i]+res[i], 0)
		}
		pa := NewPackedConv(d)
		pa.Pack(w)
		for _, packed := range []*PackedConv{nil, pa} {
			got := make([]float32, len(want))
			conv2DImages(ws, got, x, w, packed, bias, res, true, 0, batch, d, false)
			if e := maxRelErr(got, want); e > 1e-5 {
				t.Errorf("%+v, packed A %v: max rel err %g", d, packed != nil, e)
			}
			if n := testing.AllocsPerRun(3, func() { conv2DImages(ws, got, x, w, packed, bias, res, true, 0, batch, d, false) }); n != 0 {
				t.Errorf("%+v: %v allocations per call", d, n)
			}
		}
	}
}
