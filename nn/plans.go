package nn

import "sync"

// avx2Plans keeps the plans of the AVX2 transforms' groups (wino4InPlan
// and the like), a slice of them a pass: a pass's plans depend only on
// its shape, not on which images it takes, so that a layer's passes, and
// every later call of it, share one planning. Planning each pass afresh
// had taken a third of the F(4x4, 3x3) input transform's time at 16
// channels, a ninth at 64. The goroutines share one (plans): which of
// them takes which pass varies from call to call, and with a cache each
// a call could still meet a shape of pass it had not planned, and
// allocate. Plans are never changed once made, so they are read outside
// the lock.
type avx2Plans struct {
	mu  sync.Mutex
	in  map[passKey][]wino4InPlan
	out map[passKey][]wino4OutPlan
	f2  map[passKey][]winoF2InPlan
	s2  map[passKey][]winoS2InPlan
}

// plans is the AVX2 transforms' cache of plans.
var plans avx2Plans

// maxPlannedPasses bounds each of avx2Plans' maps: one past it is
// emptied first. A network has some tens of pass shapes; only a program
// that runs thousands of different convolutions would come near it.
const maxPlannedPasses = 4096

// passKey is the shape of a pass of transforms: tile rows [ty0, ty1) of
// imgs images of a conv d.
type passKey struct {
	d              ConvDims
	imgs, ty0, ty1 int
}

// newPassKey is the key of a pass. One image's plans do not depend on
// its channel counts, which only step from image to image: the shares of
// a pass split by channels (winoPhases), each of a different count, have
// one key.
func newPassKey(d ConvDims, imgs, ty0, ty1 int) passKey {
	if imgs == 1 {
		d.C, d.K = 0, 0
	}
	return passKey{d, imgs, ty0, ty1}
}

// cachedPlans returns the plans of the pass k, a plan a group of
// wino4AVX2Groups(k.d, k.imgs, k.ty0, k.ty1, per), each filled in by
// plan: from cache (one of ps's maps) if it has them, else made and kept
// there.
func cachedPlans[P any](ps *avx2Plans, cache *map[passKey][]P, k passKey, per int, plan func(p *P, g wino4Group)) []P {
	ps.mu.Lock()
	s, ok := (*cache)[k]
	ps.mu.Unlock()
	if ok {
		return s
	}
	for g := range wino4AVX2Groups(k.d, k.imgs, k.ty0, k.ty1, per) {
		s = append(s, *new(P))
		plan(&s[len(s)-1], g)
	}
	ps.mu.Lock()
	if *cache == nil || len(*cache) >= maxPlannedPasses {
		*cache = map[passKey][]P{}
	}
	(*cache)[k] = s
	ps.mu.Unlock()
	return s
}

// inPlans returns the plans of winoInput4AVX2's pass.
func (ps *avx2Plans) inPlans(d ConvDims, imgs, ty0, ty1 int) []wino4InPlan {
	k := newPassKey(d, imgs, ty0, ty1)
	return cachedPlans(ps, &ps.in, k, 2, func(plan *wino4InPlan, g wino4Group) {
		planWindows(plan.off[:], plan.mask[:], plan.kind[:], g, 4, 6, 4, k.d)
		markWholeColumns(plan.off[:], plan.kind[:], plan.col[:], plan.whole[:], &plan.row, k.d.W)
	})
}

// outPlans returns the plans of winoOutput4AVX2's pass (and winoDy4AVX2's,
// dy being shaped as the output).
func (ps *avx2Plans) outPlans(d ConvDims, imgs, ty0, ty1 int) []wino4OutPlan {
	k := newPassKey(d, imgs, ty0, ty1)
	return cachedPlans(ps, &ps.out, k, 2, func(plan *wino4OutPlan, g wino4Group) {
		plan.fill(g, k.d.K*k.d.OH*k.d.OW, k.d)
	})
}

// f2Plans returns the plans of winoInputF2AVX2's pass (one image).
func (ps *avx2Plans) f2Plans(d ConvDims, ty0, ty1 int) []winoF2InPlan {
	k := newPassKey(d, 1, ty0, ty1)
	return cachedPlans(ps, &ps.f2, k, 4, func(plan *winoF2InPlan, g wino4Group) {
		planWindows(plan.off[:], plan.mask[:], plan.kind[:], g, 2, 4, 2, k.d)
		markWholeColumns(plan.off[:], plan.kind[:], plan.col[:], plan.whole[:], &plan.row, k.d.W)
	})
}

// s2Plans returns the plans of winoInputS2AVX2's pass (one image).
func (ps *avx2Plans) s2Plans(d ConvDims, ty0, ty1 int) []winoS2InPlan {
	k := newPassKey(d, 1, ty0, ty1)
	return cachedPlans(ps, &ps.s2, k, 2, func(plan *winoS2InPlan, g wino4Group) {
		planWindows(plan.off[:], plan.mask[:], plan.kind[:], g, 4, 5, 4, k.d)
	})
}

// planWindows plans group g's windows by planWindow: each rows rows from
// input row shift*ty - pad and column shift*tx - pad of its tile's image
// (tiles shift apart), its blocks half apart in the plan, the second
// shift columns on.
func planWindows(off []int64, mask []int32, kind []uint8, g wino4Group, half, rows, shift int, d ConvDims) {
	for q, t := range g.blocks() {
		if t.ok {
			planWindow(off, mask, kind, half, q, rows, shift, t.img*d.C*d.H*d.W, shift*t.ty-d.Pad, shift*t.tx-d.Pad, d)
		}
	}
}
