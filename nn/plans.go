package nn

// avx2Plans keeps the plans of the AVX2 transforms' groups (wino4InPlan
// and the like), a slice of them a pass: a pass's plans depend only on
// its shape, not on which images it takes, so that a layer's passes, and
// every later call of it, share one planning. Planning each pass afresh
// had taken a third of the F(4x4, 3x3) input transform's time at 16
// channels, a ninth at 64. A workspace keeps its own (its goroutine's),
// made on first use: no call after the first allocates.
type avx2Plans struct {
	in  map[passKey][]wino4InPlan
	out map[passKey][]wino4OutPlan
	f2  map[passKey][]winoF2InPlan
	s2  map[passKey][]winoS2InPlan
}

// passKey is the shape of a pass of transforms: tile rows [ty0, ty1) of
// imgs images of a conv d.
type passKey struct {
	d              ConvDims
	imgs, ty0, ty1 int
}

// cachedPlans returns the plans of the pass k, a plan a group of
// wino4AVX2Groups(k.d, k.imgs, k.ty0, k.ty1, per), each filled in by
// plan: from cache if it has them, else made, and kept there if cache is
// not nil.
func cachedPlans[P any](cache *map[passKey][]P, k passKey, per int, plan func(p *P, g wino4Group)) []P {
	if cache != nil {
		if ps, ok := (*cache)[k]; ok {
			return ps
		}
	}
	var ps []P
	for g := range wino4AVX2Groups(k.d, k.imgs, k.ty0, k.ty1, per) {
		ps = append(ps, *new(P))
		plan(&ps[len(ps)-1], g)
	}
	if cache != nil {
		if *cache == nil {
			*cache = map[passKey][]P{}
		}
		(*cache)[k] = ps
	}
	return ps
}

// inPlans returns the plans of winoInput4AVX2's pass, from ps if not nil.
func (ps *avx2Plans) inPlans(d ConvDims, imgs, ty0, ty1 int) []wino4InPlan {
	var cache *map[passKey][]wino4InPlan
	if ps != nil {
		cache = &ps.in
	}
	return cachedPlans(cache, passKey{d, imgs, ty0, ty1}, 2, func(plan *wino4InPlan, g wino4Group) {
		for q, t := range g.blocks() {
			if t.ok {
				planWindow(plan.off[:], plan.mask[:], plan.kind[:], 4, q, 6, 4, t.img*d.C*d.H*d.W, 4*t.ty-d.Pad, 4*t.tx-d.Pad, d)
			}
		}
		markWholeColumns(plan.off[:], plan.kind[:], plan.col[:], plan.whole[:], &plan.row, d.W)
	})
}

// outPlans returns the plans of winoOutput4AVX2's pass (and winoDy4AVX2's,
// dy being shaped as the output), from ps if not nil.
func (ps *avx2Plans) outPlans(d ConvDims, imgs, ty0, ty1 int) []wino4OutPlan {
	var cache *map[passKey][]wino4OutPlan
	if ps != nil {
		cache = &ps.out
	}
	return cachedPlans(cache, passKey{d, imgs, ty0, ty1}, 2, func(plan *wino4OutPlan, g wino4Group) {
		plan.fill(g, d.K*d.OH*d.OW, d)
	})
}

// f2Plans returns the plans of winoInputF2AVX2's pass (one image), from ps
// if not nil.
func (ps *avx2Plans) f2Plans(d ConvDims, ty0, ty1 int) []winoF2InPlan {
	var cache *map[passKey][]winoF2InPlan
	if ps != nil {
		cache = &ps.f2
	}
	return cachedPlans(cache, passKey{d, 1, ty0, ty1}, 4, func(plan *winoF2InPlan, g wino4Group) {
		for q, t := range g.blocks() {
			if t.ok {
				planWindow(plan.off[:], plan.mask[:], plan.kind[:], 2, q, 4, 2, 0, 2*t.ty-d.Pad, 2*t.tx-d.Pad, d)
			}
		}
		markWholeColumns(plan.off[:], plan.kind[:], plan.col[:], plan.whole[:], &plan.row, d.W)
	})
}

// s2Plans returns the plans of winoInputS2AVX2's pass (one image), from ps
// if not nil.
func (ps *avx2Plans) s2Plans(d ConvDims, ty0, ty1 int) []winoS2InPlan {
	var cache *map[passKey][]winoS2InPlan
	if ps != nil {
		cache = &ps.s2
	}
	return cachedPlans(cache, passKey{d, 1, ty0, ty1}, 2, func(plan *winoS2InPlan, g wino4Group) {
		for q, t := range g.blocks() {
			if t.ok {
				planWindow(plan.off[:], plan.mask[:], plan.kind[:], 4, q, 5, 4, 0, 4*t.ty-d.Pad, 4*t.tx-d.Pad, d)
			}
		}
	})
}
