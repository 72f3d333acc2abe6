package nn

import (
	"fmt"
	"iter"
	"math"
)

// Winograd F(2x2, 3x3) computes a stride-1 3x3 convolution in 2x2 output
// tiles with 16 multiplies per tile and channel pair instead of 36: each
// 4x4 input tile d becomes V = B^T d B, each 3x3 filter g becomes
// U = G g G^T (once, when the weights are packed), and a tile of the
// output is A^T M A where M = sum over channels of U (.) V. The sum over
// channels of each of the 16 elements is one GEMM: M_e (K x tiles) =
// U_e (K x C) * V_e (C x tiles). So the multiplies fall by 2.25x, and the
// transforms, which cost adds in proportion to C + K, stay small beside
// the GEMMs, which cost C x K, once there are enough channels.
//
//	B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//	G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//	A^T = [1 1 1 0; 0 1 -1 -1]

// winoCols is the number of GEMM columns (tiles) one pass takes at most:
// small images are grouped until their tiles reach it, so that the CIFAR
// nets' GEMMs still get enough columns to run at speed, and a large image
// is taken a few tile rows at a time. Small passes keep V and M in the
// cache between the transforms and the GEMMs: 128 ran ResNet-20 and -56
// about 15% faster than 512 did. winoGroupFloats caps V and M (16 x
// (C + K) floats a column) of a pass, so that wide layers take fewer
// columns.
const (
	winoCols        = 128
	winoGroupFloats = 1 << 20
	winoSkew        = 16 // floats, one cache line: see winoPass
)

// WinogradOK reports whether F(2x2, 3x3) computes this convolution: a 3x3
// kernel at stride 1, padded by at most 2 (so that its input gradient is
// one too).
func (d ConvDims) WinogradOK() bool {
	return d.KH == 3 && d.KW == 3 && d.Stride == 1 && d.Pad <= 2
}

// winograd reports whether d is lowered to F(2x2, 3x3), F(4x4, 3x3) or
// the stride-2 Winograd.
func (d ConvDims) winograd() bool {
	ok := d.WinogradOK()
	switch d.Lowering {
	case LowerWinograd, LowerWinograd4:
	case LowerWinogradS2:
		ok = d.WinogradS2OK()
	default:
		return false
	}
	if !ok {
		panic(fmt.Sprintf("nn: a %dx%d stride-%d pad-%d convolution cannot be lowered to %s", d.KH, d.KW, d.Stride, d.Pad, d.Lowering))
	}
	return true
}

// winoM is the side of d's output tiles: 4 for LowerWinograd4, else 2.
func (d ConvDims) winoM() int {
	if d.Lowering == LowerWinograd4 {
		return 4
	}
	return 2
}

// winoN is the number of elements of a transformed tile, the number of
// GEMMs a pass makes: (m+2)^2 at stride 1, 25 at stride 2.
func (d ConvDims) winoN() int {
	if d.Lowering == LowerWinogradS2 {
		return 25
	}
	a := d.winoM() + 2
	return a * a
}

// f2 is d lowered to F(2x2, 3x3): the tiles of the weight gradient,
// whatever the forward pass's.
func (d ConvDims) f2() ConvDims {
	d.Lowering = LowerWinograd
	return d
}

// tiles is the number of output tiles down and across.
func (d ConvDims) tiles() (th, tw int) {
	m := d.winoM()
	return (d.OH + m - 1) / m, (d.OW + m - 1) / m
}

// winoGroupCols is the most columns (tiles) a pass takes, forward or for
// the weight gradient.
func (d ConvDims) winoGroupCols() int {
	return max(1, min(winoCols, winoGroupFloats/(d.winoN()*(d.C+d.K))))
}

// passSplit is how one pass of at most maxCols tiles splits tile rows
// [ty0, ty1) of each image: imgs images a pass when all their rows fit
// together, else rows tile rows of one image a pass, as many in each
// pass as the fewest passes allow: a last pass of a few tiles would run
// the GEMM's kernels on panels mostly empty (14 tile rows of 14 went 9 +
// 5, 126 and 70 tiles, where 7 + 7 take 98 each).
func (d ConvDims) passSplit(ty0, ty1, maxCols int) (imgs, rows int) {
	_, tw := d.tiles()
	if per := (ty1 - ty0) * tw; per <= maxCols {
		return max(1, maxCols/per), ty1 - ty0
	}
	most := max(1, maxCols/tw)
	passes := (ty1 - ty0 + most - 1) / most
	return 1, (ty1 - ty0 + passes - 1) / passes
}

// winoFloats is the scratch of a Winograd conv: a pass's V and M for its
// columns (at most an image's tiles or winoGroupCols), for the conv and
// for its input gradient (by either Winograd), and its weight gradient's.
func (d ConvDims) winoFloats() int {
	if d.Lowering == LowerWinogradS2 {
		return d.winoPassFloats() // inference only
	}
	g := d.gradInput()
	g4 := g
	g4.Lowering = LowerWinograd4 // which gradInputFor may choose
	return max(d.winoPassFloats(), g.winoPassFloats(), g4.winoPassFloats(), d.winoGradFloats())
}

// winoPassFloats is the scratch of one pass of this convolution.
func (d ConvDims) winoPassFloats() int {
	_, tw := d.tiles()
	// V's columns rounded up to whole panels of the widest kernel, so that
	// the size does not depend on the machine that generated the code.
	cols := max(tw, d.winoGroupCols())
	return d.winoN() * (d.C*(cols+31)/32*32 + d.K*cols + 2*winoSkew)
}

// PackedConv is a convolution's weights prepared for its lowering:
// packed for the GEMM, or for LowerWinograd (LowerWinograd4) transformed to the 16 (36)
// matrices U_e (K x C) and each of those packed. Inference prepares them
// once when the weights load; training's Winograd convs, in the
// workspace on every step.
type PackedConv struct {
	d    ConvDims
	gemm *PackedA
	u    []float32 // Winograd: U_e at u[e*K*C:], row-major; unwritten when packDirect made wino
	wino []PackedA // Winograd: U_e packed
	flip []float32 // a workspace's input-gradient weights before their transform
	// wide is the same weights for F(4x4, 3x3), for the batches that
	// ConvDims.Winograd4From sends there; made on first use, and
	// repacked from the weights of the call when not fresh (Pack
	// changed them).
	wide      *PackedConv
	wideFresh bool
}

// NewPackedConv allocates room for the weights of a convolution of shape d
// (K x C x KH x KW) prepared for d's lowering.
func NewPackedConv(d ConvDims) *PackedConv {
	p := &PackedConv{d: d}
	if !d.winograd() {
		p.gemm = NewPackedA(d.K, d.C*d.KH*d.KW)
		return p
	}
	p.u = make([]float32, d.winoN()*d.K*d.C)
	p.wino = make([]PackedA, d.winoN())
	// The packings lie one after another, uStride floats apart, so that
	// one kernel call runs all a pass's GEMMs (winoGemm).
	size := d.uStride()
	slab := make([]float32, d.winoN()*size)
	for e := range p.wino {
		p.wino[e] = PackedA{m: d.K, k: d.C, data: slab[e*size : (e+1)*size]}
	}
	return p
}

// Pack prepares w (K x C x KH x KW) for the kernel in use.
func (p *PackedConv) Pack(w []float32) {
	p.pack(w, false)
	p.wideFresh = false
}

// widened returns p's weights prepared for the F(4x4, 3x3) dims wide
// (ConvDims.wideFor), packing w, the weights p holds, into them on the
// first call after Pack: a model that never runs a wide batch never pays
// for their four-times-larger transform (37.7 MB for 512 channels).
func (p *PackedConv) widened(wide ConvDims, w []float32) *PackedConv {
	if p.wide == nil {
		p.wide = NewPackedConv(wide)
	}
	if !p.wideFresh {
		p.wide.Pack(w)
		p.wideFresh = true
	}
	return p.wide
}

// wideFor is d as inference with a PackedConv runs it at a batch: by
// F(4x4, 3x3) from d.Winograd4From images on, else d itself.
func (d ConvDims) wideFor(batch int) ConvDims {
	if d.Lowering != LowerWinograd || d.Winograd4From <= 0 || batch < d.Winograd4From {
		return d
	}
	d.Lowering, d.Winograd4From = LowerWinograd4, 0
	return d
}

// pack is Pack, or with flip (a Winograd conv's only) the same for the
// weights whose filter (k, c) is filter (c, k) of w (C x K x 3 x 3) turned
// by 180 degrees: an input gradient's.
func (p *PackedConv) pack(w []float32, flip bool) { p.packShared(nil, w, flip) }

// minSharedPack is the filters below which one goroutine transforms a
// Winograd conv's weights faster than two can be started on them; the
// assembly transforms are ten times faster, so minSharedDirect for them
// (on AVX2, 64x64 F(4x4, 3x3) filters: 140 -> 78-91 us shared; 32x32:
// 23 us either way).
const (
	minSharedPack   = 256
	minSharedDirect = 2048
)

// packShared is pack with the work shared among the goroutines if ws is
// not nil: training transforms every Winograd conv's weights, forward and
// flipped, on every step, and one goroutine alone left the others
// waiting (by the Go transforms, ResNet-20's took 12 ms of a 280 ms step
// on AVX2, before it had assembly ones).
func (p *PackedConv) packShared(ws *Workspace, w []float32, flip bool) {
	if p.u == nil {
		p.gemm.Pack(w)
		return
	}
	kc := p.d.K * p.d.C
	nt := 1
	if ws != nil && kc >= minSharedPack {
		nt = threadCount()
	}
	if panels := p.directPanels(); panels > 0 {
		if nt = min(nt, panels); nt < 2 || kc < minSharedDirect {
			p.packDirect(w, flip, 0, panels)
		} else {
			ws.packTask = packTask{p: p, w: w, flip: flip, direct: true}
			shareRange(ws, &ws.packTask, panels, nt)
		}
		mr, _ := tileShape()
		for e := range p.wino {
			p.wino[e].mr = mr
		}
		return
	}
	if flip && p.flip == nil {
		p.flip = make([]float32, len(w))
	}
	if nt < 2 {
		p.transform(w, flip, 0, kc)
		p.packElems(0, len(p.wino))
		return
	}
	ws.packTask = packTask{p: p, w: w, flip: flip}
	shareRange(ws, &ws.packTask, kc, nt)
	ws.packTask.elems = true
	shareRange(ws, &ws.packTask, len(p.wino), nt)
}

// packTask is packShared's work: the transform of filters [from, to),
// then (elems) the packing of elements [from, to) of U; or (direct) the
// assembly transforms of panels [from, to).
type packTask struct {
	p             *PackedConv
	w             []float32
	flip          bool
	elems, direct bool
}

func (t *packTask) run(_ *Workspace, from, to int) {
	switch {
	case t.direct:
		t.p.packDirect(t.w, t.flip, from, to)
	case t.elems:
		t.p.packElems(from, to)
	default:
		t.p.transform(t.w, t.flip, from, to)
	}
}

// transform writes U for filters [from, to) of w, or with flip of w
// flipped (into p.flip first).
func (p *PackedConv) transform(w []float32, flip bool, from, to int) {
	d := p.d
	if flip {
		// Filter f = (k, c) is filter (c, k) of w, its taps reversed.
		for f := from; f < to; f++ {
			k, c := f/d.C, f%d.C
			src, dst := w[(c*d.K+k)*9:][:9], p.flip[f*9:][:9]
			for i := range 9 {
				dst[i] = src[8-i]
			}
		}
		w = p.flip
	}
	kc := d.K * d.C
	switch {
	case d.Lowering == LowerWinogradS2:
		winoWeightsS2(p.u, w, kc, from, to)
	case d.winoM() == 4:
		winoWeights4(p.u, w, kc, from, to)
	default:
		winoWeights(p.u, w, kc, from, to)
	}
}

// packElems packs elements [from, to) of U into their GEMMs' panels.
func (p *PackedConv) packElems(from, to int) {
	kc := p.d.K * p.d.C
	for e := from; e < to; e++ {
		p.wino[e].Pack(p.u[e*kc : (e+1)*kc])
	}
}

// directPanels is the row panels (of the kernel's tile rows) that
// packDirect writes for p, or 0 where the assembly transforms do not take
// it.
func (p *PackedConv) directPanels() int {
	mr, _ := tileShape()
	if !(useWinoAsm && mr == 12) && !(useWinoAVX2 && mr == avx2Rows) || p.d.Lowering == LowerWinogradS2 {
		return 0
	}
	return (p.d.K + mr - 1) / mr
}

// packDirect is pack by the assembly transforms for row panels [from, to)
// of directPanels: they write U_e straight into the panels that
// PackedA.Pack would make of it (12 rows with AVX-512, 6 with AVX2), bit
// for bit, in a tenth of the time or less. p.u is left unwritten: the
// kernels that use these panels never read it. The caller sets the
// panels' mr once all are written.
func (p *PackedConv) packDirect(w []float32, flip bool, from, to int) {
	mr, _ := tileShape()
	avx512 := useWinoAsm && mr == 12
	d := p.d
	// Tap t of filter (k0+l, c) lies at w[c*step + idx[t][l]] from the
	// panel's first filter.
	var idx [9][16]int32
	step, lane := 9, 9*d.C
	if flip {
		step, lane = 9*d.K, 9
	}
	for t := range 9 {
		for l := range 16 {
			idx[t][l] = int32(l * lane)
			if flip {
				idx[t][l] += int32(8 - t)
			} else {
				idx[t][l] += int32(t)
			}
		}
	}
	rows := (d.K + mr - 1) / mr * mr
	kb := blockK()
	slab := p.wino[0].data[:cap(p.wino[0].data)]
	_ = w[d.K*d.C*9-1]
	var masks [8]int32 // the AVX2 kernels' lanes
	for pc := 0; pc < d.C; pc += kb {
		kc := min(kb, d.C-pc)
		for k0 := from * mr; k0 < min(d.K, to*mr); k0 += mr {
			first := (k0*d.C + pc) * 9
			if flip {
				first = (pc*d.K + k0) * 9
			}
			lanes := min(mr, d.K-k0)
			dst := &slab[pc*rows+k0*kc]
			// Direct calls: through a func value, idx would escape.
			switch {
			case avx512 && d.winoM() == 4:
				winoWeightsF4AVX512(dst, d.uStride(), &w[first], step, kc, &idx, uint16(1)<<lanes-1)
			case avx512:
				winoWeightsF2AVX512(dst, d.uStride(), &w[first], step, kc, &idx, uint16(1)<<lanes-1)
			default:
				for l := range masks {
					masks[l] = 0
					if l < lanes {
						masks[l] = -1
					}
				}
				if d.winoM() == 4 {
					winoWeightsF4AVX2(dst, d.uStride(), &w[first], step, kc, &idx, &masks)
				} else {
					winoWeightsF2AVX2(dst, d.uStride(), &w[first], step, kc, &idx, &masks)
				}
			}
		}
	}
}

// uStride is the floats between the packings of U_e and U_e+1: a packed
// K x C matrix.
func (d ConvDims) uStride() int { return (d.K + 11) / 12 * 12 * d.C }

// gemmA is the packed GEMM operand of a convolution not lowered to
// Winograd (nil if there is none).
func (p *PackedConv) gemmA() *PackedA {
	if p == nil {
		return nil
	}
	return p.gemm
}

// winoWeights writes U = G g G^T of filters [from, to) of the n 3x3
// filters of w to u[e*n+i] for element e of filter i. It computes in
// float64 and rounds once, so that U is as close to exact as float32
// holds.
func winoWeights(u, w []float32, n, from, to int) {
	for i := from; i < to; i++ {
		g := w[9*i : 9*i+9]
		// G g: rows 0 and 3 are g's first and last; rows 1 and 2 halve
		// the sum and the alternating sum.
		var t [4][3]float64
		for j := 0; j < 3; j++ {
			g0, g1, g2 := float64(g[j]), float64(g[3+j]), float64(g[6+j])
			t[0][j], t[1][j], t[2][j], t[3][j] = g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2
		}
		// (G g) G^T, the same along each row.
		for r := 0; r < 4; r++ {
			g0, g1, g2 := t[r][0], t[r][1], t[r][2]
			u[(4*r+0)*n+i] = float32(g0)
			u[(4*r+1)*n+i] = float32((g0 + g1 + g2) / 2)
			u[(4*r+2)*n+i] = float32((g0 - g1 + g2) / 2)
			u[(4*r+3)*n+i] = float32(g2)
		}
	}
}

// winogradConv runs a Winograd convolution task over the batch, its
// images split among the goroutines if there are enough, else one
// image's phases (splitsPhases) or each image's tile rows; a pass below
// minParallelFlops is not split.
func winogradConv(ws *Workspace, task convTask, batch int) {
	d := task.d
	th, _ := d.tiles()
	nt := 1
	if 2*batch*d.K*d.OH*d.OW*d.C*9 >= minParallelFlops {
		nt = threadCount()
	}
	switch {
	case nt > 1 && batch >= nt:
		shareConv(ws, task, splitImages, batch, nt)
	case nt > 1 && batch == 1 && d.splitsPhases(nt):
		winoPhases(ws, task, nt)
	case nt > 1 && th > 1:
		shareConv(ws, task, splitTileRows, batch, min(nt, th))
	default:
		conv2DWinograd(ws, task.y, task.x, task.packed, task.bias, task.residual, task.relu, 0, batch, 0, th, d)
	}
}

// winoPhaseWeights is the weight pairs (K x C) per tile of a batch above
// which the goroutines share a Winograd conv by phases (winoPhases) rather
// than by tile rows: each then streams only its elements' transformed
// weights, where sharing tile rows streamed all of them through each.
// resnet18's 7x7 stage of 512 channels at batch 1 (16 384 pairs a tile)
// has few tiles for 16 MB of transformed weights.
const winoPhaseWeights = 1024

// minWinoRowShare is the fewest tiles of a share of a Winograd conv's tile
// rows: two of the GEMM's 32-column panels. A narrower share computes up
// to a panel it does not use, where the phases' GEMMs take every tile, in
// whole panels and an edge of 16. At batch 1, resnet's 28x28 stage by
// F(4x4, 3x3) has 49 tiles, which two goroutines split by tile rows into
// 28 and 21 and each computed 32.
const minWinoRowShare = 64

// splitsPhases reports whether one image of this conv is shared among nt
// goroutines by phases: its weights are many for its tiles, or its tiles
// too few for shares of tile rows (minWinoRowShare).
func (d ConvDims) splitsPhases(nt int) bool {
	th, tw := d.tiles()
	tiles := th * tw
	return d.K*d.C > winoPhaseWeights*tiles || tiles < minWinoRowShare*nt
}

// winoPhases runs a one-image Winograd conv on nt goroutines, pass by
// pass, each pass in three phases shared apart: the input transform by
// input channels, the GEMMs by elements of the transform, the output
// transform by output channels. Each goroutine then streams its elements'
// transformed weights only, and the shares are even where shares of 12
// output channels were not (128 channels went 72 and 56) and each
// transformed the whole input. At batch 1 (go test -bench ConvLowering
// ./nn), 128 channels of 28x28 by F(4x4, 3x3) took 0.33-0.34 ms against
// 0.38, 256 of 28x28 to 14x14 by the stride-2 Winograd 0.82-0.83 against
// 0.88-0.93.
func winoPhases(ws *Workspace, t convTask, nt int) {
	d := t.d
	th, _ := d.tiles()
	_, rows := d.passSplit(0, th, d.winoGroupCols())
	if need := d.winoPassFloats(); len(ws.Col) < need {
		ws.Col = make([]float32, need) // a helper's workspace, on its first convolution
	}
	ph := &ws.winoPhase
	for r := 0; r < th; r += rows {
		ph.pass = newWinoPass(ws, 1, r, min(r+rows, th), d, false)
		ph.t = t
		for i, n := range [3]int{d.C, d.winoN(), d.K} {
			ph.phase = i
			shareRange(ws, ph, n, min(nt, n))
		}
	}
	ph.t = convTask{} // no slices kept past the call
}

// winoPhaseTask is one phase of a winoPhases pass, as a rangeJob.
type winoPhaseTask struct {
	t     convTask
	pass  winoPassLayout
	phase int // 0: input channels, 1: elements, 2: output channels
}

func (w *winoPhaseTask) run(ws *Workspace, from, to int) {
	t, p := &w.t, &w.pass
	d := t.d
	switch w.phase {
	case 0:
		sub := d
		sub.C = to - from
		p.input(p.v[from*p.l.row:], t.x[from*d.H*d.W:], sub)
	case 1:
		p.gemms(ws, t.packed, from, to, d)
	default:
		ohw := d.OH * d.OW
		sub := d
		sub.K = to - from
		bias, res := t.bias, t.residual
		if bias != nil {
			bias = bias[from:to]
		}
		if res != nil {
			res = res[from*ohw : to*ohw]
		}
		p.output(t.y[from*ohw:to*ohw], p.m[from*p.cols:], bias, res, t.relu, sub)
	}
}

// gradInput is the convolution that gives the input gradient of d from
// the output gradient: a 3x3 stride-1 convolution of K channels into C,
// padded so that it maps OH x OW back to H x W, whose filter (c, k) is
// filter (k, c) of d turned by 180 degrees.
func (d ConvDims) gradInput() ConvDims {
	return ConvDims{C: d.K, H: d.OH, W: d.OW, K: d.C, KH: 3, KW: 3, Stride: 1, Pad: 2 - d.Pad, OH: d.H, OW: d.W, Lowering: d.Lowering}
}

// gradInputFor is gradInput for a batch: a Winograd conv's input gradient
// goes by F(4x4, 3x3) where the batch has at least minGradWino4Tiles 4x4
// tiles of it (of d's input), else by F(2x2, 3x3). The input
// gradient is linear in dy once the forward pass has fixed the ReLUs'
// masks, so F(4x4, 3x3)'s larger rounding (about 1e-6 of the result)
// cannot flip one, as it can in the forward pass (see
// passes.LowerConvTraining). Its 36 matrices of weights are transformed
// on every call, a cost that does not shrink with the batch (0.46 ms for
// 64 x 64 filters). At 128 images the CIFAR nets' 32x32 and 16x16 stages
// (8192 and 2048 tiles) took their input gradients in 1.4-1.5 and 1.2-1.3
// ms against F(2x2, 3x3)'s 2.0-2.2 and 1.6-1.9, the 8x8 stage (512
// tiles) in 1.6-1.7 against 1.9-2.4.
func (d ConvDims) gradInputFor(batch int) ConvDims {
	g := d.gradInput()
	if d.Lowering == LowerWinograd || d.Lowering == LowerWinograd4 {
		g.Lowering = LowerWinograd
		if wino4Pays(batch, d.H, d.W) {
			g.Lowering = LowerWinograd4
		}
	}
	return g
}

// wino4Pays reports whether a batch of h x w maps has the 4x4 tiles
// (minGradWino4Tiles) for F(4x4, 3x3) in training.
func wino4Pays(batch, h, w int) bool {
	return batch*((h+3)/4)*((w+3)/4) >= minGradWino4Tiles
}

// trainFor is the lowering of a training convolution's forward pass for
// a batch: a conv the training passes lowered to F(4x4, 3x3) goes by it
// only where the batch has at least minGradWino4Tiles 4x4 tiles, else by
// F(2x2, 3x3). A few tiles leave the weight transform, made on every
// step, uncovered (as for gradInputFor); and a small batch's batch norm,
// over few values, amplifies F(4x4, 3x3)'s larger rounding: at one image,
// resnet18's gradients then differed from PyTorch's by 2%, against 0.5%
// between PyTorch in float32 and in float64.
func (d ConvDims) trainFor(batch int) ConvDims {
	switch {
	case d.Lowering == LowerWinograd4 && !wino4Pays(batch, d.OH, d.OW):
		d.Lowering = LowerWinograd
	case d.Lowering == LowerWinogradS2:
		d.Lowering = LowerIm2col // an inference lowering
	}
	return d
}

// minGradWino4Tiles is the fewest 4x4 tiles of a batch's input for which
// gradInputFor takes F(4x4, 3x3): the fewest measured to gain.
const minGradWino4Tiles = 512

// packed returns the workspace's PackedConv for d holding w transformed,
// made on the first call for d's shape: training transforms its weights
// on every step, without allocating once each shape has been seen. For
// the input gradient (flip), d is e.gradInput() and w is e's weights,
// flipped and transposed here.
func (ws *Workspace) packed(d ConvDims, w []float32, flip bool) *PackedConv {
	key := packKey{d, flip}
	p := ws.packs[key]
	if p == nil {
		if ws.packs == nil {
			ws.packs = map[packKey]*PackedConv{}
		}
		p = NewPackedConv(d)
		ws.packs[key] = p
	}
	if len(w) != d.K*d.C*9 {
		panic(fmt.Sprintf("nn: %d weights for a %d x %d x 3 x 3 convolution", len(w), d.K, d.C))
	}
	p.packShared(ws, w, flip)
	return p
}

// packKey tells a workspace's PackedConvs apart: a layer's forward weights
// and another's input-gradient weights may have the same shape.
type packKey struct {
	d    ConvDims
	flip bool
}

// conv2DWinograd is Conv2DFused for images [n0, n1) of the batch and
// tile rows [ty0, ty1) of each, lowered to F(2x2, 3x3) with the weights
// of p.
func conv2DWinograd(ws *Workspace, y, x []float32, p *PackedConv, bias, residual []float32, relu bool, n0, n1, ty0, ty1 int, d ConvDims) {
	g, rows := d.passSplit(ty0, ty1, d.winoGroupCols())
	if need := d.winoPassFloats(); len(ws.Col) < need {
		ws.Col = make([]float32, need) // a helper's workspace, on its first convolution
	}
	for n := n0; n < n1; n += g {
		for r := ty0; r < ty1; r += rows {
			winoPass(ws, y, x, p, bias, residual, relu, n, min(g, n1-n), r, min(r+rows, ty1), d)
		}
	}
}

// winoPass is one pass of conv2DWinograd: tile rows [ty0, ty1) of images
// [n, n+imgs), whose V and M fit the workspace's columns together, so
// that the GEMMs read V and the output transform reads M from the cache
// the transform or the GEMM left them in.
func winoPass(ws *Workspace, y, x []float32, p *PackedConv, bias, residual []float32, relu bool, n, imgs, ty0, ty1 int, d ConvDims) {
	in, out := d.C*d.H*d.W, d.K*d.OH*d.OW
	pass := newWinoPass(ws, imgs, ty0, ty1, d, true)
	pass.input(pass.v, x[n*in:(n+imgs)*in], d)
	pass.gemms(ws, p, 0, d.winoN(), d)
	var res []float32
	if residual != nil {
		res = residual[n*out : (n+imgs)*out]
	}
	pass.output(y[n*out:(n+imgs)*out], pass.m, bias, res, relu, d)
}

// winoPassLayout is where a pass of a Winograd conv keeps V and M in the
// workspace, and which tiles it takes: tile rows [ty0, ty1) of imgs
// images, cols in all.
type winoPassLayout struct {
	v, m                []float32
	l                   winoLayout
	pv, pm, vcols, cols int
	imgs, per, ty0, ty1 int
	packed              bool
}

// newWinoPass lays out a pass of imgs images' tile rows [ty0, ty1) in ws,
// M over V where overlap allows it.
func newWinoPass(ws *Workspace, imgs, ty0, ty1 int, d ConvDims, overlap bool) winoPassLayout {
	_, tw := d.tiles()
	w := winoPassLayout{imgs: imgs, per: (ty1 - ty0) * tw, ty0: ty0, ty1: ty1}
	w.cols = imgs * w.per
	// With the AVX-512 kernel, V goes straight into the GEMM's packed
	// panels. The last panel's columns past cols are left as they are:
	// the kernel computes them but never stores them.
	w.l, w.vcols, w.packed = d.winoLayout(w.cols)
	// The 16 (25, 36) matrices of V and of M lie winoSkew floats more than
	// their size apart: the transforms touch all at once, and a power-of-two
	// stride would put them all in one set of the cache. With overlap (a
	// pass on one goroutine, whose GEMMs run element after element), M_e
	// takes the place of V_e-1, which GEMM e-1 has just read: the pass
	// then writes half the scratch it did, and M's stores find their lines
	// in the cache rather than in memory: with the caches taken by other
	// data, a 64-channel 56x56 conv by F(4x4, 3x3) took 0.64 ms instead of
	// 0.68 (medians of 10, go test -bench ConvColdCache ./nn).
	w.pv, w.pm = d.C*w.vcols+winoSkew, d.K*w.cols+winoSkew
	ne := d.winoN()
	if overlap && d.K*w.cols <= w.pv && (ne+1)*w.pv <= len(ws.Col) {
		w.pm = w.pv
		w.m = ws.Col[:ne*w.pv]
		w.v = ws.Col[w.pv : (ne+1)*w.pv]
		return w
	}
	w.v = ws.Col[:ne*w.pv]
	w.m = ws.Col[ne*w.pv : ne*(w.pv+w.pm)]
	return w
}

// input transforms the pass's tiles of x (its images, d.C channels) into
// v, V's first channel.
func (w *winoPassLayout) input(v, x []float32, d ConvDims) {
	in := d.C * d.H * d.W
	switch {
	case d.winoM() == 4:
		winoInput4(v, w.l, w.pv, x, w.imgs, w.ty0, w.ty1, d)
	case d.Lowering == LowerWinogradS2:
		for i := range w.imgs {
			winoInputS2(v, w.l, w.pv, i*w.per, x[i*in:(i+1)*in], w.ty0, w.ty1, d)
		}
	default:
		for i := range w.imgs {
			winoInput(v, w.l, w.pv, i*w.per, x[i*in:(i+1)*in], w.ty0, w.ty1, d)
		}
	}
}

// gemms multiplies elements [e0, e1) of the pass: M_e = U_e V_e.
func (w *winoPassLayout) gemms(ws *Workspace, p *PackedConv, e0, e1 int, d ConvDims) {
	if w.packed && winoGemm(p, w.v, w.pv, w.m, w.pm, w.cols, d, e0, e1) {
		return
	}
	kc := d.K * d.C
	for e := e0; e < e1; e++ {
		ve, me := w.v[e*w.pv:e*w.pv+d.C*w.vcols], w.m[e*w.pm:e*w.pm+d.K*w.cols]
		if w.packed {
			gemmBlocks(ws, false, false, d.K, w.cols, d.C, nil, 0, nil, 0, ve, 0, me, w.cols, nil, &p.wino[e])
		} else {
			gemmSerial(ws, false, false, d.K, w.cols, d.C, p.u[e*kc:(e+1)*kc], d.C, ve, w.cols, 0, me, w.cols, nil, &p.wino[e])
		}
	}
}

// output writes the pass's output tiles of d.K channels from m (M's first
// channel) into y (its images), with the epilogue.
func (w *winoPassLayout) output(y, m, bias, res []float32, relu bool, d ConvDims) {
	if d.winoM() == 4 {
		winoOutput4(y, m, w.cols, w.pm, bias, res, relu, w.imgs, w.ty0, w.ty1, d)
		return
	}
	out := d.K * d.OH * d.OW
	for i := range w.imgs {
		var ri []float32
		if res != nil {
			ri = res[i*out : (i+1)*out]
		}
		winoOutput(y[i*out:(i+1)*out], m, w.cols, w.pm, i*w.per, bias, ri, relu, w.ty0, w.ty1, d)
	}
}

// winoGemm runs the GEMMs of elements [e0, e1) of a pass, M_e (K x cols) =
// U_e (K x C) V_e (C x cols) with V in packed panels, in one call of the
// AVX-512 kernel for K mod 12 rows at the edge, where there is one (K a
// multiple of 4, as all of resnet's are); it reports whether it did.
func winoGemm(p *PackedConv, v []float32, pv int, m []float32, pm, cols int, d ConvDims, e0, e1 int) bool {
	// The kernel is 32 columns wide: a last panel of 16 or fewer, or of up
	// to maxSingleColumns more, goes to gemmBlocks, which takes it with the
	// 16-column kernels at half the multiplies, and the columns past 16
	// one by one (a batch-1 pass of a 7x7 image split between two
	// goroutines has 8 tiles; of a 28x28 image by F(4x4, 3x3), 49 = 32 +
	// 16 + 1: 0.77 -> 0.63 ms on one core at 128 channels).
	if p.wino[0].mr != 12 || cols%32 != 0 && cols%32 <= 16+maxSingleColumns {
		return false
	}
	kernel := winoGemmE0AVX512
	switch d.K % 12 {
	case 0:
	case 4:
		kernel = winoGemmE4AVX512
	case 8:
		kernel = winoGemmE8AVX512
	default:
		return false
	}
	panels := (cols + 31) / 32
	kernel(e1-e0, d.C, d.K/12, panels, &p.wino[e0].data[p.wino[e0].row0*d.C], len(p.wino[0].data), &v[e0*pv], pv, &m[e0*pm], pm, cols, columnMask(cols-32*(panels-1)))
	return true
}

// winoLayout is how a pass of cols columns lays out V: in the packed
// panels of the AVX-512 kernel where its channels fit one block of K
// (packed), else as a plain matrix; vcols is the columns the layout takes.
func (d ConvDims) winoLayout(cols int) (l winoLayout, vcols int, packed bool) {
	if _, nr := tileShape(); useAVX512 && d.C <= gemmKC {
		return packedLayout(d.C, nr), (cols + nr - 1) / nr * nr, true
	}
	return plainLayout(cols), cols, false
}

// useWinoAsm selects the AVX-512 transforms, which give the same bits as
// the Go ones.
var useWinoAsm = haveAVX512

// winoPerms[h] are the permutes of the transform kernels for h tiles a
// half register (winoLanes), made once. With h = 16, [0] deinterleaves a
// window of 32 floats into its even and odd positions (the max pooling
// uses it too); with h = 8, [1] interleaves two registers back
// (0, 16, 1, 17 ... 15, 31): a whole register of one tile row.
var winoPerms = func() (p [17][2][32]int32) {
	for h := range p {
		p[h][0], p[h][1] = winoLanes(h, false), winoLanes(h, true)
	}
	return p
}()

// laneMask has bit l set for each of 16 lanes whose position from+l lies
// in [0, n).
func laneMask(from, n int) uint16 {
	lo, hi := max(0, -from), min(16, n-from)
	if lo >= hi {
		return 0
	}
	return uint16((1<<hi - 1) &^ (1<<lo - 1))
}

// winoLayout places element (c, col) of each matrix V_e at
// (col/width)*panel + c*row + col%width: either a plain C x cols matrix
// (plainLayout), or the GEMM's packed panels of B (packedLayout), which
// the input transform then writes directly, instead of the GEMM copying
// V into them.
type winoLayout struct{ width, panel, row int }

// plainLayout is a matrix whose rows are ld floats apart.
func plainLayout(ld int) winoLayout { return winoLayout{width: math.MaxInt32, row: ld} }

// packedLayout is the packed B of a GEMM with c rows (at most gemmKC, one
// block of K) and panels nr columns wide.
func packedLayout(c, nr int) winoLayout { return winoLayout{width: nr, panel: nr * c, row: nr} }

func (l winoLayout) at(c, col int) int {
	return col/l.width*l.panel + c*l.row + col%l.width
}

// stores returns the masks of a store of n tiles at column col (n <= 16):
// lo of the tiles in col's panel, hi of those that run over into the
// next, and off, the bytes from where the store puts them to where they
// belong.
func (l winoLayout) stores(col, n int) (lo, hi uint16, off int) {
	all := uint16(1<<n - 1)
	if s := l.width - col%l.width; n > s {
		lo = uint16(1<<s - 1)
		return lo, all &^ lo, 4 * (l.panel - l.width)
	}
	return all, 0, 0
}

// winoInput writes V = B^T d B for the input tiles d of one image's tile
// rows [ty0, ty1): tile (ty, tx) goes to column col0 + (ty-ty0)*tw + tx of
// the 16 matrices V_e (C x cols, laid out by l, plane floats apart in v).
// Outside the image the input reads as 0 (the padding).
func winoInput(v []float32, l winoLayout, plane, col0 int, x []float32, ty0, ty1 int, d ConvDims) {
	if !useWinoAsm && useWinoAVX2 && l.width == plainLayout(0).width {
		winoInputF2AVX2(v, l.row, plane, col0, x, ty0, ty1, d)
		return
	}
	if !useWinoAsm {
		winoInputGo(v, l, plane, col0, x, ty0, ty1, d)
		return
	}
	_, tw := d.tiles()
	var masks [6]uint16
	for c := range transformCalls(tw, ty0, ty1) {
		base := 2*c.tx0 - d.Pad
		rows := inRows(2*c.ty-d.Pad, 4, d.H)
		perm := &winoPerms[16][0]
		if tw <= 8 {
			// The second tile row's windows start two input rows down.
			masks[0], masks[2] = laneMask(base, d.W), laneMask(base+2, d.W)
			masks[1], masks[3] = masks[0], masks[2]
			if c.second {
				rows |= inRows(2*c.ty+2-d.Pad, 4, d.H) << 4
			}
			perm = &winoPerms[tw][0]
		} else {
			for i, o := range [4]int{0, 16, 2, 18} {
				masks[i] = laneMask(base+o, d.W)
			}
			rows |= rows << 4
		}
		col := col0 + (c.ty-ty0)*tw + c.tx0
		lo, hi, split := l.stores(col, c.lanes)
		masks[4], masks[5] = lo, hi
		winoInputAVX512(&v[l.at(0, col)], &x[0], d.C, (2*c.ty-d.Pad)*d.W+base, d.H*d.W, l.row, plane, d.W, rows, &masks, perm, c.hiOff(tw, d.W), split)
	}
}

// transformCall is one call of a Winograd transform kernel over an image's
// tiles: lanes tiles of tile row ty from tile tx0. A narrow image's tile
// row (tw <= 8) fills half a register, so a call takes two tile rows when
// there is a second (the row after ty), its tiles in the second half;
// otherwise a call takes up to 16 tiles of one row.
type transformCall struct {
	ty, tx0, lanes int
	second         bool
}

// transformCalls yields the calls over tile rows [ty0, ty1) of tw tiles.
func transformCalls(tw, ty0, ty1 int) iter.Seq[transformCall] {
	return func(yield func(transformCall) bool) {
		if tw <= 8 {
			for ty := ty0; ty < ty1; ty += 2 {
				c := transformCall{ty: ty, lanes: tw}
				if ty+1 < ty1 {
					c.second, c.lanes = true, 2*tw
				}
				if !yield(c) {
					return
				}
			}
			return
		}
		for tx0 := 0; tx0 < tw; tx0 += 16 {
			for ty := ty0; ty < ty1; ty++ {
				if !yield(transformCall{ty: ty, tx0: tx0, lanes: min(16, tw-tx0)}) {
					return
				}
			}
		}
	}
}

// hiOff is where the kernels find a call's second half, in bytes from the
// first, on a side whose rows are w floats wide: the next tile row's, two
// rows down, or the next 16 floats of the same row.
func (c transformCall) hiOff(tw, w int) int {
	if tw <= 8 {
		return 2 * w * 4
	}
	return 64
}

// inRows has bit r set for each of n rows first+r that lie in [0, size).
func inRows(first, n, size int) int {
	bits := 0
	for r := range n {
		if y := first + r; y >= 0 && y < size {
			bits |= 1 << r
		}
	}
	return bits
}

// winoLanes are the permutes of the transform kernels for tw tiles of a
// first half and tw of a second (two tile rows of tw <= 8 tiles a
// register; tw = 16 for one row's 16 tiles on the input side, and 8 on
// the output side, where each half is 8 tiles of one row). For the input transform, a window's
// even positions, then its odd ones; for the output (out), the
// interleaving of the first tile row's two columns, then the second's.
func winoLanes(tw int, out bool) (l [32]int32) {
	for i := range 16 {
		if out {
			// Lane i of each half: column i%2 of tile first + i/2.
			for h, first := range [2]int{0, tw} {
				src := first + i/2
				if i%2 == 1 {
					src += 16
				}
				l[16*h+i] = int32(src & 31)
			}
			continue
		}
		// Tile i: position 2i of the first half, or 2(i-tw) of the second.
		e := 2 * i
		if i >= tw {
			e = 16 + 2*(i-tw)
		}
		l[i], l[16+i] = int32(e&31), int32((e+1)&31)
	}
	return l
}

// winoInputGo is winoInput in Go, one tile at a time.
func winoInputGo(v []float32, l winoLayout, plane, col0 int, x []float32, ty0, ty1 int, d ConvDims) {
	_, tw := d.tiles()
	winoInputTilesGo(x, ty0, ty1, d, func(c, ty, tx int, d [6][6]float32) {
		// B^T d down the columns, then (B^T d) B along the rows.
		var t [4][4]float32
		for j := range 4 {
			d0, d1, d2, d3 := d[0][j], d[1][j], d[2][j], d[3][j]
			t[0][j], t[1][j], t[2][j], t[3][j] = d0-d2, d1+d2, d2-d1, d1-d3
		}
		o := l.at(c, col0+(ty-ty0)*tw+tx)
		for i := range 4 {
			d0, d1, d2, d3 := t[i][0], t[i][1], t[i][2], t[i][3]
			v[(4*i)*plane+o] = d0 - d2
			v[(4*i+1)*plane+o] = d1 + d2
			v[(4*i+2)*plane+o] = d2 - d1
			v[(4*i+3)*plane+o] = d1 - d3
		}
	})
}

// winoInputTilesGo hands tile each input tile of tile rows [ty0, ty1) of
// one image, channel by channel: the rows and columns of channel c an
// output tile sees, from (step*ty - Pad, step*tx - Pad), 0 in the
// padding; step is winoM times the stride, and the tile winoM+2 rows and
// columns at stride 1, 5 at stride 2.
func winoInputTilesGo(x []float32, ty0, ty1 int, d ConvDims, tile func(c, ty, tx int, t [6][6]float32)) {
	_, tw := d.tiles()
	step, side := d.winoM()*d.Stride, d.winoM()+2
	if d.Stride == 2 {
		side = 5
	}
	for c := 0; c < d.C; c++ {
		xc := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for ty := ty0; ty < ty1; ty++ {
			for tx := 0; tx < tw; tx++ {
				iy, ix := step*ty-d.Pad, step*tx-d.Pad
				var t [6][6]float32
				for i := range side {
					if yy := iy + i; yy >= 0 && yy < d.H {
						for j := range side {
							if xx := ix + j; xx >= 0 && xx < d.W {
								t[i][j] = xc[yy*d.W+xx]
							}
						}
					}
				}
				tile(c, ty, tx, t)
			}
		}
	}
}

// winoOutput writes the output tiles A^T M A of one image's tile rows
// [ty0, ty1), read from the 16 matrices M_e (K x ld, plane floats apart
// in m) at the columns winoInput gave them, with the GEMM epilogue's order:
// plus bias, plus residual (laid out like y; may be nil), then the ReLU.
// A tile's row or column past the output's edge (odd OH or OW) is dropped.
func winoOutput(y, m []float32, ld, plane, col0 int, bias, res []float32, relu bool, ty0, ty1 int, d ConvDims) {
	s2 := d.Lowering == LowerWinogradS2
	switch {
	case !useWinoAsm && useWinoAVX2:
		winoOutput2AVX2(y, m, ld, plane, col0, bias, res, relu, ty0, ty1, d)
		return
	case !useWinoAsm && s2:
		winoOutputS2Go(y, m, ld, plane, col0, bias, res, relu, ty0, ty1, d)
		return
	case !useWinoAsm:
		winoOutputGo(y, m, ld, plane, col0, bias, res, relu, ty0, ty1, d)
		return
	}
	_, tw := d.tiles()
	flags, bp, rp := outputFlags(bias, res, relu)
	var masks [5]uint16
	for c := range transformCalls(tw, ty0, ty1) {
		perm := &winoPerms[8][1]
		if tw <= 8 {
			row := laneMask(0, d.OW)
			masks[0], masks[1], masks[3], masks[4] = row, 0, 0, 0
			if c.second {
				masks[1] = row
			}
			if 2*c.ty+1 < d.OH {
				masks[3] = row
			}
			if c.second && 2*c.ty+3 < d.OH {
				masks[4] = row
			}
			perm = &winoPerms[tw][1]
		} else {
			masks[0], masks[1] = laneMask(2*c.tx0, d.OW), laneMask(2*c.tx0+16, d.OW)
			masks[3], masks[4] = 0, 0
			if 2*c.ty+1 < d.OH {
				masks[3], masks[4] = masks[0], masks[1]
			}
		}
		masks[2] = uint16(1<<c.lanes - 1)
		col := col0 + (c.ty-ty0)*tw + c.tx0
		// Direct calls: through a func value, masks would escape.
		if s2 {
			winoOutputS2AVX512(&y[0], &m[col], rp, bp, d.K, 2*c.ty*d.OW+2*c.tx0, d.OH*d.OW, ld, plane, d.OW, flags, &masks, perm, c.hiOff(tw, d.OW))
		} else {
			winoOutputAVX512(&y[0], &m[col], rp, bp, d.K, 2*c.ty*d.OW+2*c.tx0, d.OH*d.OW, ld, plane, d.OW, flags, &masks, perm, c.hiOff(tw, d.OW))
		}
	}
}

// outputFlags is the output kernels' flags for an epilogue of bias (8),
// residual (2) and ReLU (1), and the pointers to the bias and residual
// (nil for none).
func outputFlags(bias, res []float32, relu bool) (flags int, bp, rp *float32) {
	if relu {
		flags |= 1
	}
	if res != nil {
		flags |= 2
		rp = &res[0]
	}
	if bias != nil {
		flags |= 8
		bp = &bias[0]
	}
	return flags, bp, rp
}

// winoOutputGo is winoOutput in Go, one tile at a time.
func winoOutputGo(y, m []float32, ld, plane, col0 int, bias, res []float32, relu bool, ty0, ty1 int, d ConvDims) {
	winoTilesGo(y, bias, res, relu, ty0, ty1, d, func(k, ty, tx int) (q [4][4]float32) {
		o := k*ld + col0 + (ty-ty0)*((d.OW+1)/2) + tx
		// A^T M down the columns, then along the rows.
		var a [2][4]float32
		for j := range 4 {
			m0, m1, m2, m3 := m[j*plane+o], m[(4+j)*plane+o], m[(8+j)*plane+o], m[(12+j)*plane+o]
			a[0][j], a[1][j] = m0+m1+m2, m1-m2-m3
		}
		for i := range 2 {
			q[i][0], q[i][1] = a[i][0]+a[i][1]+a[i][2], a[i][1]-a[i][2]-a[i][3]
		}
		return q
	})
}

// winoTilesGo writes the output tiles of tile rows [ty0, ty1) of one
// image: tile gives tile (ty, tx) of channel k (its first winoM rows and
// columns), and each value gets the bias, then the residual (laid out
// like y; may be nil), then the ReLU, the GEMM epilogue's order. A tile's
// rows and columns past the output's edge are dropped.
func winoTilesGo(y, bias, res []float32, relu bool, ty0, ty1 int, d ConvDims, tile func(k, ty, tx int) [4][4]float32) {
	_, tw := d.tiles()
	tm := d.winoM()
	ohw := d.OH * d.OW
	for k := 0; k < d.K; k++ {
		var b float32
		if bias != nil {
			b = bias[k]
		}
		for ty := ty0; ty < ty1; ty++ {
			for tx := 0; tx < tw; tx++ {
				q := tile(k, ty, tx)
				for i := range min(tm, d.OH-tm*ty) {
					for j := range min(tm, d.OW-tm*tx) {
						at := k*ohw + (tm*ty+i)*d.OW + tm*tx + j
						val := q[i][j] + b
						if res != nil {
							val += res[at]
						}
						if relu {
							val = max(val, 0)
						}
						y[at] = val
					}
				}
			}
		}
	}
}
