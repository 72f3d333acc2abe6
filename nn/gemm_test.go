package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// gemmRef is the plain triple loop, in float64.
func gemmRef(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			c[i*ldc+j] = float32(s + float64(beta)*float64(c[i*ldc+j]))
		}
	}
}

// maxRelErr is max |a-b| / (max |b| + tiny), a scale-aware comparison.
func maxRelErr(a, b []float32) float64 {
	var worst, scale float64
	for i := range b {
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	for i := range a {
		worst = math.Max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return worst / (scale + 1e-30)
}

// kernels runs f with each micro-kernel this machine has.
func kernels(t *testing.T, f func(t *testing.T)) {
	saved512, saved2 := useAVX512, useAVX2
	defer func() { useAVX512, useAVX2 = saved512, saved2 }()
	useAVX512, useAVX2 = false, false
	t.Run("purego", f)
	if haveAVX2 {
		useAVX2 = true
		t.Run("avx2", f)
		useAVX2 = false
	}
	if haveAVX512 {
		useAVX512 = true
		t.Run("avx512", f)
	}
}

func TestGemmMatchesReference(t *testing.T) { kernels(t, testGemm) }

// TestGemmOddShapes sweeps every size 1..67 in one dimension at a time
// (the others odd too), for the edge tiles of every kernel.
func TestGemmOddShapes(t *testing.T) {
	kernels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		ws := NewWorkspace(0)
		for s := 1; s <= 67; s++ {
			for _, dims := range [][3]int{{s, 37, 29}, {33, s, 41}, {35, 39, s}} {
				m, n, k := dims[0], dims[1], dims[2]
				a, b := randSlice(r, m*k), randSlice(r, k*n)
				c := randSlice(r, m*n)
				want := append([]float32(nil), c...)
				gemmRef(false, false, m, n, k, a, k, b, n, 1, want, n)
				Gemm(ws, false, false, m, n, k, a, k, b, n, 1, c, n)
				if e := maxRelErr(c, want); e > 1e-5 {
					t.Fatalf("m=%d n=%d k=%d: max rel err %g", m, n, k, e)
				}
			}
		}
	})
}

func testGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ws := NewWorkspace(0)
	// 515 x 49: rows enough that AVX2 packs a B whose rows are not
	// 32-byte aligned (readRowB), its edge panel 8 columns wide.
	sizes := [][3]int{{1, 1, 1}, {3, 5, 7}, {4, 4, 4}, {5, 9, 3}, {17, 33, 65}, {64, 4, 300}, {67, 1030, 259}, {130, 7, 513}, {515, 49, 401}}
	for _, s := range sizes {
		m, n, k := s[0], s[1], s[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, beta := range []float32{0, 1, 0.5} {
				lda, ldb, ldc := k+2, n+3, n+1
				if tr[0] {
					lda = m + 2
				}
				if tr[1] {
					ldb = k + 3
				}
				rowsA, rowsB := m, k
				if tr[0] {
					rowsA = k
				}
				if tr[1] {
					rowsB = n
				}
				a := randSlice(r, rowsA*lda)
				b := randSlice(r, rowsB*ldb)
				c := randSlice(r, m*ldc)
				want := append([]float32(nil), c...)
				gemmRef(tr[0], tr[1], m, n, k, a, lda, b, ldb, beta, want, ldc)
				Gemm(ws, tr[0], tr[1], m, n, k, a, lda, b, ldb, beta, c, ldc)
				if e := maxRelErr(c, want); e > 1e-5 {
					t.Errorf("m=%d n=%d k=%d trans=%v beta=%g: max rel err %g", m, n, k, tr, beta, e)
				}
				// Padding columns of C beyond n must be untouched.
				for i := 0; i < m; i++ {
					if c[i*ldc+n] != want[i*ldc+n] {
						t.Fatalf("m=%d n=%d k=%d: wrote outside C", m, n, k)
					}
				}
			}
		}
	}
}

// BenchmarkGemm1024 is the kernel alone, 1024^3 on one core.
func BenchmarkGemm1024(b *testing.B) {
	defer SetThreads(SetThreads(1))
	benchGemm1024(b)
}

// BenchmarkGemm1024Parallel is the same on every core.
func BenchmarkGemm1024Parallel(b *testing.B) { benchGemm1024(b) }

func benchGemm1024(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ws := NewWorkspace(0)
	const n = 1024
	x, y, z := randSlice(r, n*n), randSlice(r, n*n), make([]float32, n*n)
	b.SetBytes(2 * n * n * n) // "bytes" are FLOPs here: MB/s reads as MFLOP/s
	for i := 0; i < b.N; i++ {
		Gemm(ws, false, false, n, n, n, x, n, y, n, 0, z, n)
	}
}

func BenchmarkGemm256(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ws := NewWorkspace(0)
	const n = 256
	x, y, z := randSlice(r, n*n), randSlice(r, n*n), make([]float32, n*n)
	b.SetBytes(2 * n * n * n) // "bytes" are FLOPs here: MB/s reads as MFLOP/s
	for i := 0; i < b.N; i++ {
		Gemm(ws, false, false, n, n, n, x, n, y, n, 0, z, n)
	}
}

// TestGemmThreads splits one GEMM with an epilogue among 1, 2 and 3
// goroutines (uneven shares) and compares with the reference.
func TestGemmThreads(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	ws := NewWorkspace(0)
	const m, n, k = 67, 1201, 257 // above minParallelFlops, so the shares really split
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	bias, res := randSlice(r, m), randSlice(r, m*n)
	want := epilogueRef(m, n, k, a, b, n, bias, res)
	for _, threads := range []int{1, 2, 3} {
		old := SetThreads(threads)
		c := randSlice(r, m*n)
		GemmEpilogue(ws, false, false, m, n, k, a, k, b, n, 0, c, n, &Epilogue{Bias: bias, Residual: res, LdR: n, ReLU: true})
		SetThreads(old)
		if e := maxRelErr(c, want); e > 1e-5 {
			t.Errorf("%d threads: max rel err %g", threads, e)
		}
	}
}

// TestGemmThreadsByRows: a GEMM with few columns and many rows (the late
// layers at batch 1) splits its rows; each share must take its own rows
// of A or of A's packing, of C, of the bias and of the residual, with A
// plain, transposed and packed once, and shares that are not whole
// blocks of MC. The last two shapes split their columns instead, in
// shares of half a tile (784: 400 + 384, or 272 + 272 + 240).
func TestGemmThreadsByRows(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	ws := NewWorkspace(0)
	for _, s := range [][3]int{{517, 49, 700}, {2048, 7, 1500}, {301, 100, 600}, {130, 784, 300}, {67, 200, 1300}} {
		m, n, k := s[0], s[1], s[2]
		a, b := randSlice(r, m*k), randSlice(r, k*n)
		at := make([]float32, k*m)
		for i := 0; i < m; i++ {
			for p := 0; p < k; p++ {
				at[p*m+i] = a[i*k+p]
			}
		}
		bias, res := randSlice(r, m), randSlice(r, m*n)
		want := make([]float32, m*n)
		gemmRef(false, false, m, n, k, a, k, b, n, 0, want, n)
		for i := range want {
			want[i] = max(want[i]+bias[i/n]+res[i], 0)
		}
		pa := NewPackedA(m, k)
		pa.Pack(a)
		for _, threads := range []int{2, 3} {
			old := SetThreads(threads)
			for _, how := range []string{"plain", "transposed", "packed"} {
				c := randSlice(r, m*n)
				epi := &Epilogue{Bias: bias, Residual: res, LdR: n, ReLU: true}
				switch how {
				case "plain":
					GemmEpilogue(ws, false, false, m, n, k, a, k, b, n, 0, c, n, epi)
				case "transposed":
					GemmEpilogue(ws, true, false, m, n, k, at, m, b, n, 0, c, n, epi)
				case "packed":
					GemmPacked(ws, pa, m, n, k, a, b, n, 0, c, n, epi)
				}
				if e := maxRelErr(c, want); e > 1e-5 {
					t.Errorf("%dx%dx%d, %d threads, A %s: max rel err %g", m, n, k, threads, how, e)
				}
			}
			SetThreads(old)
		}
	}
}

// TestGemmPacked checks A packed once against packing per call, over
// several blocks of K and of M, with both kernels; a pack made for the
// other kernel is ignored rather than misread.
func TestGemmPacked(t *testing.T) {
	kernels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 3))
		ws := NewWorkspace(0)
		for _, s := range [][3]int{{130, 77, 600}, {9, 1201, 513}, {64, 32, 256}, {1, 5, 3}} {
			m, n, k := s[0], s[1], s[2]
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			want := make([]float32, m*n)
			gemmRef(false, false, m, n, k, a, k, b, n, 0, want, n)
			pa := NewPackedA(m, k)
			pa.Pack(a)
			c := randSlice(r, m*n)
			GemmPacked(ws, pa, m, n, k, a, b, n, 0, c, n, nil)
			if e := maxRelErr(c, want); e > 1e-5 {
				t.Errorf("m=%d n=%d k=%d: max rel err %g", m, n, k, e)
			}
			pa.mr = 3 // as if packed for another kernel
			GemmPacked(ws, pa, m, n, k, a, b, n, 0, c, n, nil)
			if e := maxRelErr(c, want); e > 1e-5 {
				t.Errorf("m=%d n=%d k=%d, stale pack: max rel err %g", m, n, k, e)
			}
		}
	})
}

// BenchmarkGemm1024AVX2 is the AVX2 kernel alone on one core, where the
// machine has both (it would be chosen only without AVX-512).
func BenchmarkGemm1024AVX2(b *testing.B) {
	if !haveAVX2 {
		b.Skip("no AVX2")
	}
	saved512, saved2 := useAVX512, useAVX2
	defer func() { useAVX512, useAVX2 = saved512, saved2 }()
	useAVX512, useAVX2 = false, true
	defer SetThreads(SetThreads(1))
	benchGemm1024(b)
}

// TestGemmEpilogueCombos checks every combination of bias, residual and
// ReLU, with beta 0 and 1 and several panels of K, on odd shapes, with
// every kernel: the AVX-512 kernels apply the epilogue in registers, the
// others per block. C and the residual have rows longer than n (so a row
// stride mistaken for the other shows), and some n leave a few columns
// past a multiple of 16 (49, 20, 3, 1), which the AVX-512 path multiplies
// a column at a time.
func TestGemmEpilogueCombos(t *testing.T) {
	kernels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(4, 4))
		ws := NewWorkspace(0)
		for _, s := range [][3]int{{13, 45, 300}, {12, 32, 256}, {1, 1, 1}, {25, 70, 513}, {37, 3, 7}, {29, 49, 130}, {14, 20, 600}} {
			m, n, k := s[0], s[1], s[2]
			ldc, ldr := n+5, n+3
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			bias, res := randSlice(r, m), randSlice(r, m*ldr)
			for combo := range 8 {
				for _, beta := range []float32{0, 1} {
					epi := &Epilogue{LdR: ldr, ReLU: combo&4 != 0}
					if combo&1 != 0 {
						epi.Bias = bias
					}
					if combo&2 != 0 {
						epi.Residual = res
					}
					c0 := randSlice(r, m*ldc)
					want := append([]float32(nil), c0...)
					gemmRef(false, false, m, n, k, a, k, b, n, beta, want, ldc)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							v := &want[i*ldc+j]
							if epi.Bias != nil {
								*v += bias[i]
							}
							if epi.Residual != nil {
								*v += res[i*ldr+j]
							}
							if epi.ReLU {
								*v = max(*v, 0)
							}
						}
					}
					c := append([]float32(nil), c0...)
					GemmEpilogue(ws, false, false, m, n, k, a, k, b, n, beta, c, ldc, epi)
					if e := maxRelErr(c, want); e > 1e-5 {
						t.Errorf("m=%d n=%d k=%d combo=%d beta=%v: max rel err %g", m, n, k, combo, beta, e)
					}
				}
			}
		}
	})
}

// TestSpinWait runs parallel GEMMs with the workers polling, not polling,
// and polling on a single P, where a poller that did not yield would hold
// the P its caller needs; SetSpinWait returns the previous setting.
func TestSpinWait(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 7))
	ws := NewWorkspace(0)
	const m, n, k = 37, 999, 301
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	want := make([]float32, m*n)
	gemmRef(false, false, m, n, k, a, k, b, n, 0, want, n)
	defer SetThreads(SetThreads(3))
	old := SetSpinWait(0)
	defer SetSpinWait(old)
	for _, procs := range []int{1, runtime.GOMAXPROCS(0)} {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		for _, spin := range []time.Duration{0, 50 * time.Millisecond, time.Microsecond} {
			SetSpinWait(spin)
			for range 3 {
				c := randSlice(r, m*n)
				Gemm(ws, false, false, m, n, k, a, k, b, n, 0, c, n)
				if e := maxRelErr(c, want); e > 1e-5 {
					t.Fatalf("GOMAXPROCS %d, spin %v: max rel err %g", procs, spin, e)
				}
			}
		}
	}
	if got := SetSpinWait(old); got != time.Microsecond {
		t.Errorf("SetSpinWait returned %v, want the 1µs set before", got)
	}
}

// TestGemmPaddedEdgeRows: when A's slice runs on past its m rows (as the
// Winograd weight gradient pads U), packing reads a whole 12-row edge
// panel; the rows past m, NaN here, must not reach C.
func TestGemmPaddedEdgeRows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 8))
	ws := NewWorkspace(0)
	for _, m := range []int{1, 4, 13, 16, 29} {
		for _, k := range []int{5, 16, 40, 67} {
			const n = 45
			a := randSlice(r, (m+12)*k)
			for i := m * k; i < len(a); i++ {
				a[i] = float32(math.NaN())
			}
			b := randSlice(r, k*n)
			want := make([]float32, m*n)
			gemmRef(false, false, m, n, k, a, k, b, n, 0, want, n)
			c := randSlice(r, m*n)
			Gemm(ws, false, false, m, n, k, a, k, b, n, 0, c, n)
			if e := maxRelErr(c, want); !(e <= 1e-5) {
				t.Errorf("m %d k %d: max rel err %g", m, k, e)
			}
		}
	}
}

// epilogueRef is the reference for a GEMM with the full epilogue: A (m x
// k) times B (k x n, rows ldb apart), plus the bias of each row and the
// residual (m x n), through the ReLU.
func epilogueRef(m, n, k int, a, b []float32, ldb int, bias, res []float32) []float32 {
	want := make([]float32, m*n)
	gemmRef(false, false, m, n, k, a, k, b, ldb, 0, want, n)
	for i := range want {
		want[i] = max(want[i]+bias[i/n]+res[i], 0)
	}
	return want
}

// TestGemmSingleColumns checks the columns past 16 of a panel (16 + 1 to
// 4: 7x7 = 49 is 32 + 16 + 1), which the whole tiles take with the 16 in
// one kernel and the edge rows alone: with every epilogue, with blocks of
// K that accumulate (K past gemmKC), B packed and read in place, and the
// rows' edge tile or none.
func TestGemmSingleColumns(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	ws := NewWorkspace(0)
	for _, m := range []int{12, 25, 36} {
		for _, n := range []int{17, 18, 19, 20, 49, 52, 81} {
			for _, k := range []int{9, gemmKC + 77} {
				for _, ldb := range []int{n, 1024} { // rowB for n >= 32, or B packed
					a, b := randSlice(r, m*k), randSlice(r, k*ldb)
					bias, res := randSlice(r, m), randSlice(r, m*n)
					want := epilogueRef(m, n, k, a, b, ldb, bias, res)
					c := randSlice(r, m*n)
					gemmSerial(ws, false, false, m, n, k, a, k, b, ldb, 0, c, n, &Epilogue{Bias: bias, Residual: res, LdR: n, ReLU: true}, nil)
					if e := maxRelErr(c, want); e > 1e-5 {
						t.Errorf("m=%d n=%d k=%d ldb=%d: max rel err %g", m, n, k, ldb, e)
					}
				}
			}
		}
	}
}
