package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// winoLowerings are the two Winograd lowerings, and how far each may stray
// from the float64 direct convolution, relative to the largest output:
// F(2x2, 3x3) adds a few roundings per output to the GEMM's (2e-6 is about
// 16 ulps); F(4x4, 3x3)'s transforms multiply by up to 8 and add up to
// six terms a side, each step scaling the rounding errors.
var winoLowerings = []struct {
	low ConvLowering
	tol float64
}{{LowerWinograd, 2e-6}, {LowerWinograd4, 1e-5}}

// TestWinogradMatchesReference checks F(2x2, 3x3), F(4x4, 3x3) and (at
// stride 2) the stride-2 Winograd against the float64 direct convolution
// over odd shapes: images from 1x1 up, odd and even
// sides (a last tile that is cut), paddings 0 to 2, channel counts from 1
// to 67, batches that do and do not fill a group of images, with bias,
// residual and ReLU, on one goroutine and on two (images or tile rows
// split), with each GEMM kernel this machine has.
func TestWinogradMatchesReference(t *testing.T) {
	kernels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 1))
		shapes := []struct{ c, k, h, w, pad, batch int }{
			{1, 1, 1, 1, 1, 1},
			{3, 5, 2, 3, 1, 2},
			{7, 4, 5, 5, 1, 3},
			{16, 16, 8, 8, 1, 5},
			{5, 9, 7, 11, 0, 2},
			{67, 13, 3, 4, 2, 1},
			{2, 67, 9, 6, 1, 4},
			{33, 31, 13, 13, 1, 1},
			{64, 64, 14, 14, 1, 1},
			{12, 20, 32, 32, 1, 3},
			{48, 40, 7, 7, 1, 2},
			{12, 24, 9, 10, 1, 2},
			{20, 12, 33, 17, 1, 1},
			// Few tiles for many weights: two goroutines share the output
			// channels, 12 a panel, the last share's edge 8 or 10 rows.
			{200, 200, 5, 5, 1, 1},
			{130, 250, 6, 7, 1, 1},
			// Few tiles for shares of tile rows (minWinoRowShare): by
			// F(4x4, 3x3), the goroutines share the output channels too.
			{100, 40, 27, 26, 1, 1},
			// At stride 2, more than 16 tiles a row: two calls of the
			// transforms.
			{4, 4, 67, 67, 1, 1},
			// Few output channels for many input ones: M is too small for
			// V's slots.
			{100, 1, 9, 9, 1, 2},
		}
		lowerings := append(slices.Clone(winoLowerings), winoLowerings[0])
		lowerings[len(lowerings)-1].low = LowerWinogradS2
		rs2 := rand.New(rand.NewPCG(7, 2)) // the stride-2 cases' own, so the others' data stay as they were
		for _, s := range shapes {
			for _, wl := range lowerings {
				d := ConvDims{C: s.c, H: s.h, W: s.w, K: s.k, KH: 3, KW: 3, Stride: 1, Pad: s.pad, Lowering: wl.low}
				r := r
				if wl.low == LowerWinogradS2 {
					d.Stride, r = 2, rs2
				}
				d.OH, d.OW = (s.h+2*s.pad-3)/d.Stride+1, (s.w+2*s.pad-3)/d.Stride+1
				if d.OH < 1 || d.OW < 1 {
					t.Fatalf("bad test shape %+v", s)
				}
				x, w, bias := randSlice(r, s.batch*d.C*d.H*d.W), randSlice(r, d.K*d.C*9), randSlice(r, d.K)
				res := randSlice(r, s.batch*d.K*d.OH*d.OW)
				want := convRef(x, w, bias, s.batch, d)
				for i := range want {
					want[i] = max(want[i]+res[i], 0)
				}
				packed := NewPackedConv(d)
				packed.Pack(w)
				for _, threads := range []int{1, 2} {
					old := SetThreads(threads)
					ws := NewWorkspace(d.ColFloats())
					got := randSlice(r, len(want)) // garbage: y is written, not read
					Conv2DFused(ws, got, x, w, packed, bias, res, true, s.batch, d)
					if e := maxRelErr(got, want); e > wl.tol {
						t.Errorf("%+v, %d threads: max rel err %g", d, threads, e)
					}
					SetThreads(old)
				}
				// Without the residual and the ReLU, only the bias is added.
				plain := convRef(x, w, bias, s.batch, d)
				got := make([]float32, len(plain))
				Conv2DFused(NewWorkspace(d.ColFloats()), got, x, w, packed, bias, nil, false, s.batch, d)
				if e := maxRelErr(got, plain); e > wl.tol {
					t.Errorf("%+v, no residual: max rel err %g", d, e)
				}
			}
		}
	})
}

// TestWinograd4From checks a conv lowered to F(2x2, 3x3) with
// Winograd4From: below that batch it computes exactly what F(2x2, 3x3)
// alone does, from it exactly what F(4x4, 3x3) alone does (within the
// reference's tolerance); after Pack with new weights the F(4x4, 3x3)
// weights are made again from them; once made, a call allocates nothing;
// and its scratch holds either lowering's.
func TestWinograd4From(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 5))
	d2 := ConvDims{C: 13, H: 7, W: 9, K: 17, KH: 3, KW: 3, Stride: 1, Pad: 1, OH: 7, OW: 9, Lowering: LowerWinograd}
	d4 := d2
	d4.Lowering = LowerWinograd4
	d := d2
	d.Winograd4From = 3
	if got, want := d.ColFloats(), max(d2.ColFloats(), d4.ColFloats()); got != want {
		t.Errorf("ColFloats %d, want %d", got, want)
	}
	const batch = 4
	x, bias := randSlice(r, batch*d.C*d.H*d.W), randSlice(r, d.K)
	packed := NewPackedConv(d)
	ws := NewWorkspace(d.ColFloats())
	var w []float32
	for round := range 2 {
		w = randSlice(r, d.K*d.C*9) // new weights each round: the F(4x4, 3x3) ones must follow
		packed.Pack(w)
		for b := 1; b <= batch; b++ {
			alone := d2
			if b >= d.Winograd4From {
				alone = d4
			}
			p := NewPackedConv(alone)
			p.Pack(w)
			want := make([]float32, b*d.K*d.OH*d.OW)
			Conv2DFused(NewWorkspace(alone.ColFloats()), want, x, w, p, bias, nil, true, b, alone)
			got := randSlice(r, len(want))
			Conv2DFused(ws, got, x, w, packed, bias, nil, true, b, d)
			if !slices.Equal(got, want) {
				t.Errorf("round %d, batch %d: differs from %v alone by %g", round, b, alone.Lowering, maxRelErr(got, want))
			}
			ref := convRef(x[:b*d.C*d.H*d.W], w, bias, b, d)
			for i := range ref {
				ref[i] = max(ref[i], 0)
			}
			if e := maxRelErr(got, ref); e > 1e-5 {
				t.Errorf("round %d, batch %d: max rel err %g against the direct conv", round, b, e)
			}
		}
	}
	y := make([]float32, batch*d.K*d.OH*d.OW)
	if n := testing.AllocsPerRun(5, func() { Conv2DFused(ws, y, x, w, packed, bias, nil, true, batch, d) }); n != 0 {
		t.Errorf("a batch past Winograd4From allocates %v times a call once its weights are made", n)
	}
}

// TestWinogradSplitsEveryWay forces each way of sharing a Winograd conv
// among two goroutines, so that a share's columns and images are checked
// even where the work is below the size that splits on its own.
func TestWinogradSplitsEveryWay(t *testing.T) {
	for _, wl := range winoLowerings {
		t.Run(wl.low.String(), func(t *testing.T) { testWinogradSplits(t, wl.low, wl.tol) })
	}
}

func testWinogradSplits(t *testing.T, low ConvLowering, tol float64) {
	r := rand.New(rand.NewPCG(8, 1))
	d := ConvDims{C: 6, H: 9, W: 7, K: 5, KH: 3, KW: 3, Stride: 1, Pad: 1, OH: 9, OW: 7, Lowering: low}
	const batch = 3
	x, w, bias := randSlice(r, batch*d.C*d.H*d.W), randSlice(r, d.K*d.C*9), randSlice(r, d.K)
	res := randSlice(r, batch*d.K*d.OH*d.OW)
	want := convRef(x, w, bias, batch, d)
	for i := range want {
		want[i] += res[i]
	}
	packed := NewPackedConv(d)
	packed.Pack(w)
	old := SetThreads(2)
	defer SetThreads(old)
	threadCount()
	ws := NewWorkspace(d.ColFloats())
	task := convTask{x: x, w: w, packed: packed, bias: bias, residual: res, d: d}
	for name, run := range map[string]func(y []float32){
		"images":    func(y []float32) { task.y = y; shareConv(ws, task, splitImages, batch, 2) },
		"tile rows": func(y []float32) { task.y = y; shareConv(ws, task, splitTileRows, batch, 2) },
	} {
		got := randSlice(r, len(want))
		run(got)
		if e := maxRelErr(got, want); e > tol {
			t.Errorf("split by %s: max rel err %g", name, e)
		}
		if n := testing.AllocsPerRun(3, func() { run(got) }); n != 0 {
			t.Errorf("split by %s: %v allocations per call", name, n)
		}
	}
}

// TestWinogradPhases forces the sharing of one image's Winograd conv by
// phases (input channels, elements, output channels) on two and three
// goroutines, for each lowering, on odd shapes whose shares are uneven,
// against the direct convolution; and it allocates nothing.
func TestWinogradPhases(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 2))
	lowerings := append(slices.Clone(winoLowerings), winoLowerings[0])
	lowerings[len(lowerings)-1].low = LowerWinogradS2
	defer SetThreads(SetThreads(1))
	for _, wl := range lowerings {
		for _, nt := range []int{2, 3} {
			d := ConvDims{C: 13, H: 11, W: 9, K: 17, KH: 3, KW: 3, Stride: 1, Pad: 1, Lowering: wl.low}
			if wl.low == LowerWinogradS2 {
				d.Stride = 2
			}
			d.OH, d.OW = (d.H+2-3)/d.Stride+1, (d.W+2-3)/d.Stride+1
			x, w, bias := randSlice(r, d.C*d.H*d.W), randSlice(r, d.K*d.C*9), randSlice(r, d.K)
			res := randSlice(r, d.K*d.OH*d.OW)
			want := convRef(x, w, bias, 1, d)
			for i := range want {
				want[i] = max(want[i]+res[i], 0)
			}
			packed := NewPackedConv(d)
			packed.Pack(w)
			SetThreads(nt)
			threadCount()
			ws := NewWorkspace(d.ColFloats())
			got := randSlice(r, len(want))
			task := convTask{y: got, x: x, w: w, packed: packed, bias: bias, residual: res, relu: true, d: d}
			winoPhases(ws, task, nt)
			if e := maxRelErr(got, want); e > wl.tol {
				t.Errorf("%s on %d goroutines: max rel err %g", wl.low, nt, e)
			}
			if n := testing.AllocsPerRun(3, func() { winoPhases(ws, task, nt) }); n != 0 {
				t.Errorf("%s on %d goroutines: %v allocations per call", wl.low, nt, n)
			}
		}
	}
}

// TestWinogradTraining checks the training convolution lowered to
// Winograd (weights transformed in the workspace on every call) against
// im2col: the output, and in the backward pass the weight and bias
// gradients (from the columns in both) and the input gradient (Winograd
// of dy with the flipped weights, by F(4x4, 3x3) where the batch has the
// tiles for it), added to a dx that is not zero. Odd shapes, paddings 0
// to 2, one and two goroutines (images split or not), and no allocation
// once the workspace has seen the shapes.
func TestWinogradTraining(t *testing.T) {
	if l := (ConvDims{H: 31, W: 30, Lowering: LowerWinograd}).gradInputFor(17).Lowering; l != LowerWinograd4 {
		t.Fatalf("the 31x30 batch of 17 below takes its input gradient by %v: F(4x4, 3x3) goes untested there", l)
	}
	// Lowered to F(4x4, 3x3), the forward pass keeps it there and falls
	// back to F(2x2, 3x3) on the small batches.
	d4 := ConvDims{C: 8, H: 31, W: 30, K: 12, KH: 3, KW: 3, Stride: 1, Pad: 1, OH: 31, OW: 30, Lowering: LowerWinograd4}
	if a, b := d4.trainFor(17).Lowering, d4.trainFor(2).Lowering; a != LowerWinograd4 || b != LowerWinograd {
		t.Fatalf("a 31x30 conv lowered to F(4x4, 3x3) trains batches of 17 by %v and of 2 by %v", a, b)
	}
	r := rand.New(rand.NewPCG(12, 13))
	for _, s := range []struct{ c, k, h, w, pad, batch int }{
		{3, 5, 5, 7, 1, 3},
		{16, 16, 8, 8, 1, 4},
		{7, 2, 9, 6, 0, 2},
		{4, 6, 3, 5, 2, 1},
		{33, 20, 13, 11, 1, 2},
		{64, 64, 14, 14, 1, 1},
		{16, 16, 32, 32, 1, 4},
		{64, 64, 8, 8, 1, 4},
		{32, 64, 8, 8, 1, 4},
		{8, 12, 31, 30, 1, 17}, // 1088 tiles of 4x4: the input gradient by F(4x4, 3x3)
		{4, 8, 9, 70, 0, 2},    // 17 4x4 tiles a row: the weight gradient's one-row calls
	} {
		for _, threads := range []int{1, 2} {
			old := SetThreads(threads)
			d := ConvDims{C: s.c, H: s.h, W: s.w, K: s.k, KH: 3, KW: 3, Stride: 1, Pad: s.pad}
			d.OH, d.OW = s.h+2*s.pad-2, s.w+2*s.pad-2
			x, w, dy := randSlice(r, s.batch*d.C*d.H*d.W), randSlice(r, d.K*d.C*9), randSlice(r, s.batch*d.K*d.OH*d.OW)
			dx0 := randSlice(r, len(x))
			// dx is added to dx0, and written over garbage into dxSet.
			type result struct{ y, dx, dxSet, dw, db []float32 }
			run := func(low ConvLowering) (res result, do func()) {
				d := d
				d.Lowering = low
				ws := NewWorkspace(d.ColFloats())
				res = result{make([]float32, s.batch*d.K*d.OH*d.OW), make([]float32, len(x)), make([]float32, len(x)), make([]float32, len(w)), make([]float32, d.K)}
				do = func() {
					Conv2D(ws, res.y, x, w, nil, s.batch, d)
					copy(res.dx, dx0)
					Conv2DBackward(ws, res.dx, AddGrad, res.dw, res.db, dy, x, w, s.batch, d)
					copy(res.dxSet, dy)
					Conv2DBackward(ws, res.dxSet, SetGrad, res.dw, res.db, dy, x, w, s.batch, d)
				}
				do()
				for i := range res.dxSet {
					res.dxSet[i] += dx0[i]
				}
				return
			}
			want, _ := run(LowerIm2col)
			for _, wl := range winoLowerings {
				got, do := run(wl.low)
				for _, c := range []struct {
					name      string
					got, want []float32
				}{{"output", got.y, want.y}, {"input gradient", got.dx, want.dx}, {"input gradient written over garbage", got.dxSet, want.dx}, {"weight gradient", got.dw, want.dw}, {"bias gradient", got.db, want.db}} {
					tol := wl.tol
					dd := d
					dd.Lowering = wl.low
					if strings.HasPrefix(c.name, "input gradient") && dd.gradInputFor(s.batch).Lowering == LowerWinograd4 {
						tol = winoLowerings[1].tol // F(4x4, 3x3)'s
					}
					if c.name == "weight gradient" && gradDotAsm(d.K, d.C) {
						tol = winoLowerings[1].tol // by F(3x3, 4x4)
					}
					if e := maxRelErr(c.got, c.want); e > tol {
						t.Errorf("%+v, %v, %d threads: %s max rel err %g against im2col", d, wl.low, threads, c.name, e)
					}
				}
				if n := testing.AllocsPerRun(3, do); n != 0 {
					t.Errorf("%+v, %v, %d threads: %v allocations per step", d, wl.low, threads, n)
				}
			}
			SetThreads(old)
		}
	}
}

// TestWinogradWeights checks U = G g G^T against the matrices written out.
// TestWinogradWeights4 checks F(4x4, 3x3)'s U = G g G^T, for several
// filters at once (their elements interleaved), against the plain product
// in float64.
func TestWinogradWeights4(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 2))
	G := [6][3]float64{{1.0 / 4, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}}
	const n = 5
	g := randSlice(r, 9*n)
	u := make([]float32, 36*n)
	winoWeights4(u, g, n, 0, n)
	for f := range n {
		for i := range 6 {
			for j := range 6 {
				var want float64
				for a := range 3 {
					for b := range 3 {
						want += G[i][a] * float64(g[9*f+3*a+b]) * G[j][b]
					}
				}
				if got := float64(u[(6*i+j)*n+f]); math.Abs(got-want) > 1e-7*(1+math.Abs(want)) {
					t.Errorf("filter %d: U[%d][%d] = %g, want %g", f, i, j, got, want)
				}
			}
		}
	}
}

func TestWinogradWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 1))
	g := randSlice(r, 9)
	G := [4][3]float64{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}
	u := make([]float32, 16)
	winoWeights(u, g, 1, 0, 1)
	for i := range 4 {
		for j := range 4 {
			var want float64
			for a := range 3 {
				for b := range 3 {
					want += G[i][a] * float64(g[3*a+b]) * G[j][b]
				}
			}
			if e := float64(u[4*i+j]) - want; e > 1e-6 || e < -1e-6 {
				t.Errorf("U[%d][%d] = %g, want %g", i, j, u[4*i+j], want)
			}
		}
	}
}

// TestWinogradNeedsPackedWeights: a Winograd conv given a PackedConv made
// for another lowering, or a shape F(2x2, 3x3) does not compute, is a
// programming error that says what is wrong.
func TestWinogradNeedsPackedWeights(t *testing.T) {
	d := ConvDims{C: 2, H: 4, W: 4, K: 2, KH: 3, KW: 3, Stride: 1, Pad: 1, OH: 4, OW: 4, Lowering: LowerWinograd}
	y, x, w := make([]float32, 32), make([]float32, 32), make([]float32, 36)
	other := d
	other.Lowering = LowerIm2col
	mustPanic(t, "PackedConv", func() { Conv2DFused(NewWorkspace(d.ColFloats()), y, x, w, NewPackedConv(other), nil, nil, false, 1, d) })
	d2 := d
	d2.Stride, d2.OH, d2.OW = 2, 2, 2
	mustPanic(t, "stride-2", func() { NewPackedConv(d2) })
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		msg, _ := recover().(string)
		if !strings.Contains(msg, want) {
			t.Errorf("panic %q, want one that mentions %q", msg, want)
		}
	}()
	f()
}

// BenchmarkConvLowering times the inference conv of each real 3x3 layer
// shape lowered by im2col and by Winograd, as the lower-conv pass chooses
// between them (go test -bench ConvLowering ./nn): at stride 1 resnet18's
// and the CIFAR nets', at stride 2 (s2) resnet's, whose input is twice the
// side given.
func BenchmarkConvLowering(b *testing.B) {
	for _, s := range []struct {
		name                 string
		c, hw, batch, stride int
	}{
		{"resnet18-layer1-b1", 64, 56, 1, 1},
		{"resnet18-layer2-b1", 128, 28, 1, 1},
		{"resnet18-layer3-b1", 256, 14, 1, 1},
		{"resnet18-layer4-b1", 512, 7, 1, 1},
		{"cifar-stage1-b16", 16, 32, 16, 1},
		{"cifar-stage2-b16", 32, 16, 16, 1},
		{"cifar-stage3-b16", 64, 8, 16, 1},
		{"resnet-layer2-s2-b1", 128, 28, 1, 2},
		{"resnet-layer3-s2-b1", 256, 14, 1, 2},
		{"resnet-layer4-s2-b1", 512, 7, 1, 2},
		{"resnet-layer4-s2-b8", 512, 7, 8, 2},
	} {
		r := rand.New(rand.NewPCG(1, 2))
		lowerings := []ConvLowering{LowerIm2col, LowerWinograd, LowerWinograd4}
		if s.stride == 2 {
			lowerings = []ConvLowering{LowerIm2col, LowerWinogradS2}
		}
		for _, low := range lowerings {
			h := s.hw * s.stride
			d := ConvDims{C: s.c, H: h, W: h, K: s.c, KH: 3, KW: 3, Stride: s.stride, Pad: 1, OH: s.hw, OW: s.hw, Lowering: low}
			x, w, bias := randSlice(r, s.batch*d.C*d.H*d.W), randSlice(r, d.K*d.C*9), randSlice(r, d.K)
			y := make([]float32, s.batch*d.K*d.OH*d.OW)
			packed := NewPackedConv(d)
			packed.Pack(w)
			ws := NewWorkspace(d.ColFloats())
			b.Run(s.name+"/"+low.String(), func(b *testing.B) {
				for b.Loop() {
					Conv2DFused(ws, y, x, w, packed, bias, nil, true, s.batch, d)
				}
				b.ReportMetric(float64(2*s.batch*d.K*d.C*9*d.OH*d.OW)*float64(b.N)/b.Elapsed().Seconds()/1e9, "eff-GFLOP/s")
			})
		}
	}
}

// BenchmarkConvColdCache times resnet's first-stage conv by F(4x4, 3x3) at
// batch 1 as a network meets it, other layers' data having taken the
// caches: a 64 MB buffer is written over before each call (go test -bench
// ConvColdCache ./nn).
func BenchmarkConvColdCache(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	d := ConvDims{C: 64, H: 56, W: 56, K: 64, KH: 3, KW: 3, Stride: 1, Pad: 1, OH: 56, OW: 56, Lowering: LowerWinograd4}
	x, w, bias := randSlice(r, d.C*d.H*d.W), randSlice(r, d.K*d.C*9), randSlice(r, d.K)
	y := make([]float32, d.K*d.OH*d.OW)
	packed := NewPackedConv(d)
	packed.Pack(w)
	ws := NewWorkspace(d.ColFloats())
	other := make([]float32, 64<<20/4)
	Conv2DFused(ws, y, x, w, packed, bias, nil, true, 1, d)
	for b.Loop() {
		b.StopTimer()
		for i := range other {
			other[i]++
		}
		b.StartTimer()
		Conv2DFused(ws, y, x, w, packed, bias, nil, true, 1, d)
	}
}

// setWinoAsm switches the assembly transforms this machine has (AVX-512,
// else AVX2) on or off.
func setWinoAsm(on bool) {
	useWinoAsm, useWinoAVX2 = on && haveAVX512, on && haveAVX2 && !haveAVX512
}

// TestWinogradTransformsAsm checks the assembly transforms of F(2x2, 3x3)
// (AVX-512) and of the stride-2 Winograd (AVX-512, else AVX2) against the
// Go ones, bit for bit, over sides 1 to 67 and now and then to 600
// (chunks of 16 tiles or groups of 8, partial ones, cut last tiles, tile
// rows side by side), paddings 0 to 2, tile-row ranges that start
// and end inside the image, with and without bias, residual and ReLU.
// The buffers start as the same garbage and are compared whole, so a
// write outside the tiles is caught too.
func TestWinogradTransformsAsm(t *testing.T) {
	if !haveAVX512 && !haveAVX2 {
		t.Skip("no assembly transforms in this build")
	}
	defer setWinoAsm(true)
	r := rand.New(rand.NewPCG(10, 11))
	for i := range 600 {
		pad := r.IntN(3)
		w := 1 + r.IntN(67)
		if i%10 == 9 {
			w = 1 + r.IntN(600)
		}
		d := ConvDims{C: 1 + r.IntN(5), K: 1 + r.IntN(5), H: 1 + r.IntN(67), W: w, KH: 3, KW: 3, Stride: 1, Pad: pad, Lowering: LowerWinograd}
		s2 := i%2 == 1
		if s2 {
			d.Stride, d.Lowering = 2, LowerWinogradS2
		}
		d.OH, d.OW = (d.H+2*pad-3)/d.Stride+1, (d.W+2*pad-3)/d.Stride+1
		if d.H+2*pad < 3 || d.W+2*pad < 3 {
			continue
		}
		ne := d.winoN()
		th, tw := d.tiles()
		ty0 := r.IntN(th)
		ty1 := ty0 + 1 + r.IntN(th-ty0)
		col0 := r.IntN(40)
		ld := col0 + (ty1-ty0)*tw + r.IntN(5)
		x := randSlice(r, d.C*d.H*d.W)
		// V as a plain matrix, or in packed panels of 32 or 16 columns,
		// where a store may run over into the next panel.
		l := plainLayout(ld)
		size := d.C * ld
		if nr := []int{0, 16, 32}[r.IntN(3)]; nr > 0 {
			l = packedLayout(d.C, nr)
			size = (ld + nr - 1) / nr * nr * d.C
		}
		plane := size + r.IntN(20)
		v0 := randSlice(r, ne*plane)
		var v [2][]float32
		for i, asm := range []bool{false, true} {
			setWinoAsm(asm)
			v[i] = append([]float32(nil), v0...)
			if s2 {
				winoInputS2(v[i], l, plane, col0, x, ty0, ty1, d)
			} else {
				winoInput(v[i], l, plane, col0, x, ty0, ty1, d)
			}
		}
		if !slices.Equal(v[0], v[1]) {
			t.Fatalf("%+v tile rows [%d,%d) col0 %d ld %d layout %+v: input transforms differ", d, ty0, ty1, col0, ld, l)
		}
		if s2 {
			// Inference only: no weight gradient.
			testOutputTransforms(t, r, d, ld, col0, ty0, ty1)
			continue
		}
		// The weight gradient's transform of dy (K x OH x OW), with a NaN
		// that must stay one, into a plain layout.
		dy := randSlice(r, d.K*d.OH*d.OW)
		dy[r.IntN(len(dy))] = float32(math.NaN())
		uplane := d.K*ld + r.IntN(20)
		u0 := randSlice(r, 16*uplane)
		var u [2][]float32
		for i, asm := range []bool{false, true} {
			setWinoAsm(asm)
			u[i] = append([]float32(nil), u0...)
			winoDy(u[i], ld, uplane, col0, dy, ty0, ty1, d)
		}
		if !slices.EqualFunc(u[0], u[1], func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
			t.Fatalf("%+v tile rows [%d,%d) col0 %d ld %d: dy transforms differ", d, ty0, ty1, col0, ld)
		}
		testOutputTransforms(t, r, d, ld, col0, ty0, ty1)
	}
}

// testOutputTransforms checks winoOutput's assembly transform against the
// Go one for d (F(2x2, 3x3) or the stride-2 Winograd), bit for bit, with
// and without bias, residual and ReLU, from M with a NaN in it.
func testOutputTransforms(t *testing.T, r *rand.Rand, d ConvDims, ld, col0, ty0, ty1 int) {
	mplane := d.K*ld + r.IntN(20)
	m := randSlice(r, d.winoN()*mplane)
	m[r.IntN(len(m))] = float32(math.NaN()) // a NaN must pass the ReLU in both
	y0 := randSlice(r, d.K*d.OH*d.OW)
	for flags := range 4 {
		var bias, res []float32
		if flags&1 != 0 {
			bias = randSlice(r, d.K)
		}
		if flags&2 != 0 {
			res = randSlice(r, len(y0))
		}
		relu := r.IntN(2) == 1
		var y [2][]float32
		for i, asm := range []bool{false, true} {
			setWinoAsm(asm)
			y[i] = append([]float32(nil), y0...)
			winoOutput(y[i], m, ld, mplane, col0, bias, res, relu, ty0, ty1, d)
		}
		if !slices.EqualFunc(y[0], y[1], func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
			t.Fatalf("%+v tile rows [%d,%d) bias %v residual %v relu %v: output transforms differ", d, ty0, ty1, bias != nil, res != nil, relu)
		}
	}
}

// BenchmarkWeightGradLowering times the weight gradient alone (dx nil, as
// for a network's first conv) by im2col's columns and by Winograd
// (F(3x3, 4x4), or F(3x3, 2x2) where the channels are not multiples of
// 4), from the CIFAR stem's 3 channels to 64; passes'
// minTrainWinogradChannels comes from it.
func BenchmarkWeightGradLowering(b *testing.B) {
	for _, s := range []struct{ c, k, hw, batch int }{{3, 16, 32, 64}, {16, 16, 32, 64}, {32, 32, 16, 64}, {64, 64, 8, 64}, {64, 64, 56, 1}} {
		r := rand.New(rand.NewPCG(1, 2))
		for _, low := range []ConvLowering{LowerIm2col, LowerWinograd} {
			d := ConvDims{C: s.c, H: s.hw, W: s.hw, K: s.k, KH: 3, KW: 3, Stride: 1, Pad: 1, OH: s.hw, OW: s.hw, Lowering: low}
			x, w, dy := randSlice(r, s.batch*d.C*d.H*d.W), randSlice(r, d.K*d.C*9), randSlice(r, s.batch*d.K*d.OH*d.OW)
			dw := make([]float32, len(w))
			ws := NewWorkspace(d.ColFloats())
			name := fmt.Sprintf("c%d-k%d-%dx%d-b%d/%s", s.c, s.k, s.hw, s.hw, s.batch, low)
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					Conv2DBackward(ws, nil, SetGrad, dw, nil, dy, x, w, s.batch, d)
				}
			})
		}
	}
}

// TestWinograd4TransformsAsm checks the F(4x4, 3x3) transforms in
// assembly (AVX-512, else AVX2) against the Go ones, bit for bit: sides 1
// to 140, so that calls take four tile rows of up to 4 tiles, two of up to
// 8, or 16 tiles of one row (whole, partial, and with the last tile's
// columns past the window; with AVX2, groups of 8 tiles, whole and
// partial, or of tile rows side by side),
// paddings 0 to 2, tile-row ranges that start and end inside the image
// (a call's last groups missing), V plain or in packed panels where a
// store runs over into the next, with and without bias, residual and
// ReLU, and a NaN that must stay one. Buffers start as the same garbage
// and are compared whole, with a guard zone on each side, so a write
// outside the tiles is caught too.
func TestWinograd4TransformsAsm(t *testing.T) {
	if !haveAVX512 && !haveAVX2 {
		t.Skip("no assembly transforms in this build")
	}
	defer setWinoAsm(true)
	same := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }
	r := rand.New(rand.NewPCG(14, 15))
	for n := range 400 {
		pad := r.IntN(3)
		side := []int{1 + r.IntN(20), 1 + r.IntN(40), 1 + r.IntN(140), 1 + r.IntN(600)}
		d := ConvDims{C: 1 + r.IntN(5), K: 1 + r.IntN(5), H: side[r.IntN(3)], W: side[n%len(side)], KH: 3, KW: 3, Stride: 1, Pad: pad, Lowering: LowerWinograd4}
		d.OH, d.OW = d.H+2*pad-2, d.W+2*pad-2
		if d.OH < 1 || d.OW < 1 {
			continue
		}
		th, tw := d.tiles()
		ty0 := r.IntN(th)
		ty1 := ty0 + 1 + r.IntN(th-ty0)
		imgs := 1 + r.IntN(3)
		ld := imgs*(ty1-ty0)*tw + r.IntN(5)
		x := randSlice(r, imgs*d.C*d.H*d.W)
		x[r.IntN(len(x))] = float32(math.NaN())
		l := plainLayout(ld)
		size := d.C * ld
		if nr := []int{0, 16, 32}[r.IntN(3)]; nr > 0 {
			l = packedLayout(d.C, nr)
			size = (ld + nr - 1) / nr * nr * d.C
		}
		plane := size + r.IntN(20)
		// Guard zones of garbage on both sides catch a write past either end.
		const guard = 64
		v0 := randSlice(r, 36*plane+2*guard)
		var v [2][]float32
		for i, asm := range []bool{false, true} {
			setWinoAsm(asm)
			v[i] = append([]float32(nil), v0...)
			winoInput4(v[i][guard:guard+36*plane], l, plane, x, imgs, ty0, ty1, d)
		}
		if !slices.EqualFunc(v[0], v[1], same) {
			for i := range v[0] {
				if !same(v[0][i], v[1][i]) {
					t.Fatalf("%+v %d images, tile rows [%d,%d) ld %d layout %+v: input transforms differ at %d: %g, want %g", d, imgs, ty0, ty1, ld, l, i, v[1][i], v[0][i])
				}
			}
		}
		// dy's transform for the weight gradient, over the output's tiles.
		dy := randSlice(r, imgs*d.K*d.OH*d.OW)
		dy[r.IntN(len(dy))] = float32(math.NaN())
		uplane := d.K*ld + r.IntN(20)
		u0 := randSlice(r, 36*uplane+2*guard)
		var u [2][]float32
		for i, asm := range []bool{false, true} {
			setWinoAsm(asm)
			u[i] = append([]float32(nil), u0...)
			winoDy4(u[i][guard:guard+36*uplane], ld, uplane, dy, imgs, ty0, ty1, d)
		}
		for i := range u[0] {
			if !same(u[0][i], u[1][i]) {
				t.Fatalf("%+v %d images, tile rows [%d,%d) ld %d: dy transforms differ at %d: %g, want %g", d, imgs, ty0, ty1, ld, i, u[1][i], u[0][i])
			}
		}
		mplane := d.K*ld + r.IntN(20)
		m := randSlice(r, 36*mplane)
		m[r.IntN(len(m))] = float32(math.NaN())
		m[r.IntN(len(m))] = float32(math.Inf(-1)) // no ReLU must keep it
		size = imgs * d.K * d.OH * d.OW
		y0 := randSlice(r, size+2*guard)
		for flags := range 4 {
			var bias, res []float32
			if flags&1 != 0 {
				bias = randSlice(r, d.K)
			}
			if flags&2 != 0 {
				res = randSlice(r, size)
			}
			relu := r.IntN(2) == 1
			var y [2][]float32
			for i, asm := range []bool{false, true} {
				setWinoAsm(asm)
				y[i] = append([]float32(nil), y0...)
				winoOutput4(y[i][guard:guard+size], m, ld, mplane, bias, res, relu, imgs, ty0, ty1, d)
			}
			for i := range y[0] {
				if !same(y[0][i], y[1][i]) {
					t.Fatalf("%+v %d images, tile rows [%d,%d) bias %v residual %v relu %v: output transforms differ at %d: %g, want %g", d, imgs, ty0, ty1, bias != nil, res != nil, relu, i, y[1][i], y[0][i])
				}
			}
		}
	}
}

// TestAVX2PlansCached checks the AVX2 transforms with a cache of plans
// against the Go transforms, bit for bit: passes of
// several shapes in turn through one cache, each twice (the second from
// the cache, with no allocation), so that a pass finding another
// shape's plans would be caught.
func TestAVX2PlansCached(t *testing.T) {
	if !useWinoAVX2 {
		t.Skip("the AVX2 transforms do not run on this machine")
	}
	defer setWinoAsm(true)
	r := rand.New(rand.NewPCG(31, 32))
	plans.mu.Lock()
	plans.in, plans.out, plans.f2, plans.s2 = nil, nil, nil, nil // every shape's first pass plans
	plans.mu.Unlock()
	for _, s := range []struct{ c, k, hw, imgs, ty0, ty1 int }{
		{16, 16, 32, 2, 0, 8}, {32, 32, 16, 8, 0, 4}, {64, 64, 8, 32, 0, 2}, {5, 7, 13, 3, 1, 3},
		{16, 16, 32, 1, 2, 5}, {16, 16, 32, 1, 3, 5}, {16, 16, 32, 2, 0, 8}, {5, 7, 13, 3, 0, 4}, {3, 9, 30, 1, 0, 8},
		{8, 24, 32, 1, 2, 5}, {5, 7, 32, 2, 0, 8}, // one image's key without its channels; two images' with them
	} {
		d := ConvDims{C: s.c, H: s.hw, W: s.hw, K: s.k, KH: 3, KW: 3, Stride: 1, Pad: 1, OH: s.hw, OW: s.hw, Lowering: LowerWinograd4}
		_, tw := d.tiles()
		cols := s.imgs * (s.ty1 - s.ty0) * tw
		plane := max(d.C, d.K)*cols + 5
		x := randSlice(r, s.imgs*d.C*d.H*d.W)
		m := randSlice(r, 36*plane)
		y0 := randSlice(r, s.imgs*d.K*d.OH*d.OW)
		var want, got [3][]float32
		run := func(out *[3][]float32) {
			out[0] = make([]float32, 36*plane)
			winoInput4(out[0], plainLayout(cols), plane, x, s.imgs, s.ty0, s.ty1, d)
			out[1] = append([]float32(nil), y0...)
			winoOutput4(out[1], m, cols, plane, nil, nil, true, s.imgs, s.ty0, s.ty1, d)
			out[2] = make([]float32, 36*plane)
			winoDy4(out[2], cols, plane, y0, s.imgs, s.ty0, s.ty1, d)
		}
		setWinoAsm(false)
		run(&want)
		setWinoAsm(true)
		for pass := range 2 {
			run(&got)
			for i, what := range []string{"input", "output", "dy"} {
				if !slices.Equal(got[i], want[i]) {
					t.Fatalf("%+v, call %d: the %s transform with cached plans differs", s, pass, what)
				}
			}
		}
		if n := testing.AllocsPerRun(2, func() {
			winoInput4(got[0], plainLayout(cols), plane, x, s.imgs, s.ty0, s.ty1, d)
			winoOutput4(got[1], m, cols, plane, nil, nil, true, s.imgs, s.ty0, s.ty1, d)
			winoDy4(got[2], cols, plane, y0, s.imgs, s.ty0, s.ty1, d)
		}); n != 0 {
			t.Errorf("%+v: %v allocations a call with the plans cached", s, n)
		}
		// F(2x2, 3x3)'s input transform, an image a call.
		d2 := d
		d2.Lowering = LowerWinograd
		_, tw2 := d2.tiles()
		th2 := (d2.OH + 1) / 2
		ld := tw2 * th2
		vf := make([]float32, 16*(d.C*ld+3))
		vc := make([]float32, len(vf))
		setWinoAsm(false)
		winoInput(vf, plainLayout(ld), d.C*ld+3, 0, x[:d.C*d.H*d.W], s.ty0, th2, d2)
		setWinoAsm(true)
		for range 2 {
			winoInput(vc, plainLayout(ld), d.C*ld+3, 0, x[:d.C*d.H*d.W], s.ty0, th2, d2)
			if !slices.Equal(vc, vf) {
				t.Fatalf("%+v: F(2x2, 3x3)'s input transform with cached plans differs", s)
			}
		}
	}
}

// TestPlanLayouts pins the offsets at which the AVX2 transforms read
// their plans' fields (the generator's wholeColumns and planFields).
func TestPlanLayouts(t *testing.T) {
	var in wino4InPlan
	var f2 winoF2InPlan
	var out wino4OutPlan
	for _, c := range []struct {
		name      string
		got, want [5]uintptr
	}{
		{"wino4InPlan", [5]uintptr{unsafe.Offsetof(in.mask), unsafe.Offsetof(in.kind), unsafe.Offsetof(in.col), unsafe.Offsetof(in.whole), unsafe.Offsetof(in.row)}, [5]uintptr{384, 576, 624, 688, 696}},
		{"winoF2InPlan", [5]uintptr{unsafe.Offsetof(f2.mask), unsafe.Offsetof(f2.kind), unsafe.Offsetof(f2.col), unsafe.Offsetof(f2.whole), unsafe.Offsetof(f2.row)}, [5]uintptr{128, 192, 208, 240, 248}},
		{"wino4OutPlan", [5]uintptr{unsafe.Offsetof(out.mask), unsafe.Offsetof(out.kind), unsafe.Offsetof(out.col), unsafe.Offsetof(out.whole), unsafe.Offsetof(out.row)}, [5]uintptr{128, 192, 208, 240, 248}},
	} {
		if c.got != c.want {
			t.Errorf("%s's fields at %v, the kernels read them at %v", c.name, c.got, c.want)
		}
	}
}

// BenchmarkWinogradTransforms times the input and output transforms of
// one pass alone, per lowering, on CIFAR's layer shapes (go test -bench
// WinogradTransforms -cpu 1 ./nn): ns per channel and call of 16 tiles.
func BenchmarkWinogradTransforms(b *testing.B) {
	for _, s := range []struct{ c, hw int }{{16, 32}, {32, 16}, {64, 8}} {
		for _, wl := range winoLowerings {
			d := ConvDims{C: s.c, H: s.hw, W: s.hw, K: s.c, KH: 3, KW: 3, Stride: 1, Pad: 1, OH: s.hw, OW: s.hw, Lowering: wl.low}
			r := rand.New(rand.NewPCG(1, 2))
			th, tw := d.tiles()
			imgs := max(1, 128/(th*tw))
			cols := imgs * th * tw
			x := randSlice(r, imgs*d.C*d.H*d.W)
			y := make([]float32, imgs*d.K*d.OH*d.OW)
			bias := randSlice(r, d.K)
			l, vcols, _ := d.winoLayout(cols)
			ne := d.winoN()
			pv, pm := d.C*vcols+winoSkew, d.K*cols+winoSkew
			v, m := randSlice(r, ne*pv), randSlice(r, ne*pm)
			in, out := d.C*d.H*d.W, d.K*d.OH*d.OW
			per := th * tw
			calls := float64(cols) / 16 * float64(d.C)
			name := fmt.Sprintf("c%d-%dx%d/%s", s.c, s.hw, s.hw, wl.low)
			b.Run(name+"/input", func(b *testing.B) {
				for b.Loop() {
					if wl.low == LowerWinograd4 {
						winoInput4(v, l, pv, x, imgs, 0, th, d)
						continue
					}
					for i := range imgs {
						winoInput(v, l, pv, i*per, x[i*in:(i+1)*in], 0, th, d)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/calls, "ns/16tiles/chan")
			})
			b.Run(name+"/output", func(b *testing.B) {
				for b.Loop() {
					if wl.low == LowerWinograd4 {
						winoOutput4(y, m, cols, pm, bias, nil, true, imgs, 0, th, d)
						continue
					}
					for i := range imgs {
						winoOutput(y[i*out:(i+1)*out], m, cols, pm, i*per, bias, nil, true, 0, th, d)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/calls, "ns/16tiles/chan")
			})
			if wl.low != LowerWinograd4 {
				continue
			}
			// The weight gradient's transform of dy, into U laid out as M.
			b.Run(name+"/dy", func(b *testing.B) {
				for b.Loop() {
					winoDy4(m, cols, pm, y, imgs, 0, th, d)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/calls, "ns/16tiles/chan")
			})
		}
	}
}

// TestWinoGemm checks the one-call GEMMs of a Winograd pass against
// gemmBlocks, element by element: K of every residue mod 12 the kernel
// takes (0, 4, 8, with and without whole 12-row tiles), odd C, passes
// whose last panel is partly full, and the packings at their fixed
// stride. C is compared whole from garbage, so a store past a row or
// past the last panel's columns is caught.
func TestWinoGemm(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512 kernels in this build")
	}
	r := rand.New(rand.NewPCG(21, 22))
	for _, s := range []struct{ k, c, cols int }{{4, 3, 21}, {8, 17, 32}, {12, 5, 53}, {16, 16, 128}, {28, 31, 90}, {64, 64, 117}, {36, 7, 22}} {
		d := ConvDims{C: s.c, H: 8, W: 8, K: s.k, KH: 3, KW: 3, Stride: 1, Pad: 1, OH: 8, OW: 8, Lowering: LowerWinograd}
		p := NewPackedConv(d)
		p.Pack(randSlice(r, d.K*d.C*9))
		_, vcols, packed := d.winoLayout(s.cols)
		if !packed {
			t.Fatalf("%+v: V not in packed panels", s)
		}
		pv, pm := d.C*vcols+winoSkew, d.K*s.cols+winoSkew
		v := randSlice(r, 16*pv)
		want := randSlice(r, 16*pm)
		got := append([]float32(nil), want...)
		ws := NewWorkspace(0)
		for e := range 16 {
			gemmBlocks(ws, false, false, d.K, s.cols, d.C, nil, 0, nil, 0, v[e*pv:e*pv+d.C*vcols], 0, want[e*pm:e*pm+d.K*s.cols], s.cols, nil, &p.wino[e])
		}
		if !winoGemm(p, v, pv, got, pm, s.cols, d, 0, 16) {
			t.Fatalf("%+v: winoGemm declined", s)
		}
		if e := maxRelErr(got, want); e > 1e-6 {
			t.Errorf("%+v: max rel err %g against gemmBlocks", s, e)
		}
		for i := range want {
			if i%pm >= d.K*s.cols && got[i] != want[i] {
				t.Fatalf("%+v: wrote %d, past element %d's rows", s, i, i/pm)
			}
		}
	}
	// A last panel of up to 16 + maxSingleColumns columns goes to
	// gemmBlocks, which does not compute a whole panel for it.
	d := ConvDims{C: 8, H: 8, W: 8, K: 12, KH: 3, KW: 3, Stride: 1, Pad: 1, OH: 8, OW: 8, Lowering: LowerWinograd}
	p := NewPackedConv(d)
	p.Pack(randSlice(r, d.K*d.C*9))
	for _, cols := range []int{1, 16, 17, 20, 49, 52} {
		_, vcols, _ := d.winoLayout(cols)
		pv, pm := d.C*vcols+winoSkew, d.K*cols+winoSkew
		if winoGemm(p, make([]float32, 16*pv), pv, make([]float32, 16*pm), pm, cols, d, 0, 16) {
			t.Errorf("%d columns: winoGemm took a last panel of %d", cols, cols%32)
		}
	}
}

// TestWinoGradDot checks the weight gradient's dot-product GEMM against
// float64 sums: row counts of 4 to 68 (one block of 4 and many), sums of
// 1 to 67 tiles (only a tail, whole chunks of 16, both), rows further
// apart than their length, and M adding to what it held. M is compared
// whole, so a write outside its k x c corner (past a row, or into the
// columns between rows) is caught.
func TestWinoGradDot(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, s := range []struct{ k, c, n, pad int }{
		{4, 4, 1, 0}, {4, 4, 16, 0}, {8, 4, 17, 3}, {4, 12, 15, 1}, {16, 16, 128, 0},
		{12, 20, 33, 5}, {32, 32, 67, 2}, {68, 8, 48, 0}, {8, 68, 7, 9}, {64, 64, 128, 16},
	} {
		ldu, ldv, ldm := s.n+s.pad, s.n+2*s.pad+1, s.c+s.pad+3
		u, v := randSlice(r, s.k*ldu), randSlice(r, s.c*ldv)
		m := randSlice(r, s.k*ldm)
		got := append([]float32(nil), m...)
		gradDot(got, ldm, u, ldu, v, ldv, s.k, s.c, s.n)
		for i := 0; i < s.k; i++ {
			for j := 0; j < ldm; j++ {
				if j >= s.c {
					if got[i*ldm+j] != m[i*ldm+j] {
						t.Fatalf("%+v: m[%d][%d] written, past the %d columns", s, i, j, s.c)
					}
					continue
				}
				want, scale := float64(m[i*ldm+j]), math.Abs(float64(m[i*ldm+j]))
				for p := 0; p < s.n; p++ {
					x := float64(u[i*ldu+p]) * float64(v[j*ldv+p])
					want, scale = want+x, scale+math.Abs(x)
				}
				if g := float64(got[i*ldm+j]); math.Abs(g-want) > 1e-6*scale {
					t.Fatalf("%+v: m[%d][%d] = %g, want %g", s, i, j, g, want)
				}
			}
		}
	}
}

// TestWinogradPackDirect checks the assembly weight transforms (AVX-512's
// or AVX2's), which write the packed panels directly, against nn's Go
// transforms and PackedA.Pack, bit for bit: both lowerings, forward and
// flipped (the input gradient's) weights, row counts with and without an
// edge panel, and input channels past one block of K.
func TestWinogradPackDirect(t *testing.T) {
	mr, _ := tileShape()
	flag := &useWinoAsm // the kernels packDirect runs on this CPU
	switch {
	case haveAVX512 && mr == 12:
	case haveAVX2 && !haveAVX512 && mr == avx2Rows:
		flag = &useWinoAVX2
	default:
		t.Skip("no assembly weight transforms in this build")
	}
	defer func(on bool) { *flag = on }(*flag)
	kb := blockK()
	r := rand.New(rand.NewPCG(21, 22))
	for _, s := range []struct{ k, c int }{{1, 1}, {3, 5}, {12, 7}, {16, 16}, {13, 29}, {64, 64}, {25, 2 * kb}, {5, kb + 3}, {7, 3}, {11, kb - 1}} {
		for _, low := range []ConvLowering{LowerWinograd, LowerWinograd4} {
			for _, flip := range []bool{false, true} {
				d := ConvDims{C: s.c, H: 8, W: 8, K: s.k, KH: 3, KW: 3, Stride: 1, Pad: 1, OH: 8, OW: 8, Lowering: low}
				w := randSlice(r, d.K*d.C*9)
				w[r.IntN(len(w))] = float32(math.Inf(1))
				var p [2]*PackedConv
				for i, asm := range []bool{false, true} {
					*flag = asm
					p[i] = NewPackedConv(d)
					p[i].pack(w, flip)
				}
				rows := (d.K + mr - 1) / mr * mr
				for e := range p[0].wino {
					if p[1].wino[e].mr != p[0].wino[e].mr {
						t.Fatalf("%+v flip %v: element %d packed for %d rows, want %d", d, flip, e, p[1].wino[e].mr, p[0].wino[e].mr)
					}
					for pc := 0; pc < d.C; pc += kb {
						kc := min(kb, d.C-pc)
						for k := range d.K {
							for c := pc; c < pc+kc; c++ {
								at := pc*rows + k/mr*mr*kc + (c-pc)*mr + k%mr
								got, want := p[1].wino[e].data[at], p[0].wino[e].data[at]
								if math.Float32bits(got) != math.Float32bits(want) && !(math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
									t.Fatalf("%+v flip %v: element %d of filter (%d, %d) is %g, want %g", d, flip, e, k, c, got, want)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestPackSharedMatchesSerial checks that training's weight transform,
// shared among goroutines, writes the bits one goroutine does: U, the
// flipped weights and every element's panels, for each Winograd lowering,
// forward and flipped, over a filter count no share divides evenly, by
// the Go transforms and by the assembly ones where the CPU has them
// (panels shared among the goroutines instead).
func TestPackSharedMatchesSerial(t *testing.T) {
	defer SetThreads(SetThreads(2))
	defer func(asm, avx2 bool) { useWinoAsm, useWinoAVX2 = asm, avx2 }(useWinoAsm, useWinoAVX2)
	r := rand.New(rand.NewPCG(4, 7))
	for _, asm := range []bool{false, true} {
		useWinoAsm, useWinoAVX2 = asm && haveAVX512, asm && haveAVX2 && !haveAVX512
		if asm && !useWinoAsm && !useWinoAVX2 {
			continue // no assembly transforms on this machine or build
		}
		for _, low := range []ConvLowering{LowerWinograd, LowerWinograd4, LowerWinogradS2} {
			for _, flip := range []bool{false, true} {
				d := ConvDims{C: 19, H: 9, W: 9, K: 17, KH: 3, KW: 3, Stride: 1, Pad: 1, OH: 9, OW: 9, Lowering: low}
				if asm {
					d.C = 127 // past minSharedDirect
				}
				if low == LowerWinogradS2 {
					d.Stride, d.OH, d.OW = 2, 5, 5
				}
				need := minSharedPack
				if asm {
					need = minSharedDirect
				}
				if d.K*d.C < need {
					t.Fatalf("%d filters: too few to share", d.K*d.C)
				}
				w := randSlice(r, d.K*d.C*9)
				serial, shared := NewPackedConv(d), NewPackedConv(d)
				serial.pack(w, flip)
				shared.packShared(NewWorkspace(0), w, flip)
				name := fmt.Sprintf("%v flip=%v asm=%v", low, flip, asm)
				if !slices.Equal(serial.u, shared.u) || !slices.Equal(serial.flip, shared.flip) {
					t.Errorf("%s: U or the flipped weights differ", name)
				}
				for e := range serial.wino {
					if serial.wino[e].mr != shared.wino[e].mr || !slices.Equal(serial.wino[e].data, shared.wino[e].data) {
						t.Errorf("%s: element %d's panels differ", name, e)
					}
				}
			}
		}
	}
}
