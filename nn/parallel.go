package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The GEMM splits its columns among goroutines: the caller takes the first
// share and workers, started once for the process, the others. Tasks go
// by value over a channel, so a call allocates nothing.

var (
	threadsMu sync.Mutex
	threads   = runtime.GOMAXPROCS(0)
	workers   chan gemmTask
	started   int
)

// SetThreads sets how many goroutines a GEMM may use (at least 1); it
// returns the previous setting. The default is GOMAXPROCS at start-up.
func SetThreads(n int) int {
	threadsMu.Lock()
	defer threadsMu.Unlock()
	old := threads
	threads = max(1, n)
	return old
}

func threadCount() int {
	threadsMu.Lock()
	defer threadsMu.Unlock()
	n := threads
	// Start the workers this many threads need, once.
	if workers == nil {
		workers = make(chan gemmTask, 64)
	}
	for started < n-1 {
		started++
		go worker()
	}
	return n
}

type gemmTask struct {
	transA, transB bool
	m, n, k        int
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
	epi            Epilogue
	hasEpi         bool
	pa             *PackedA
	paView         PackedA // pa from a share's first row, when hasView
	hasView        bool
	done           *shares
	job            rangeJob // instead of a GEMM: [from, to) of job
	from, to       int
}

// rangeJob is work over a range (images, channels, planes, tile rows)
// whose parts are independent; run does [from, to) with ws as scratch.
type rangeJob interface {
	run(ws *Workspace, from, to int)
}

// shareRange runs job over [0, n) in nt shares: the workers take all but
// the first, which the caller runs on ws. job points into ws, so that
// neither it nor the tasks sent allocate.
func shareRange(ws *Workspace, job rangeJob, n, nt int) {
	share := (n + nt - 1) / nt
	sh := &ws.shares
	for from := share; from < n; from += share {
		sh.add()
		workers <- gemmTask{job: job, from: from, to: min(from+share, n), done: sh}
	}
	job.run(ws, 0, min(share, n))
	sh.wait()
}

// bnTask is a train-mode batch norm (forward, or backward if backward)
// whose channels may be split among goroutines: each channel's work is
// independent of the others'.
type bnTask struct {
	backward                         bool
	y, x, residual                   []float32
	relu                             bool
	mask                             []uint16 // the ReLU's, one bit a value
	gamma, beta, runMean, runVar     []float32
	mean, invStd                     []float32
	dx, dresidual, dgamma, dbeta, dy []float32
	dxw, resw                        GradWrite
	batch, c, hw                     int
	eps, momentum                    float32
}

// minParallelElems is the batch-norm size below which splitting does not pay.
const minParallelElems = 1 << 16

func (t *bnTask) run(_ *Workspace, c0, c1 int) {
	if t.backward {
		bnBackwardChannels(t, c0, c1)
	} else {
		bnTrainChannels(t, c0, c1)
	}
}

// runBN runs a batch norm, its channels shared among goroutines when it is
// large and a workspace holds the task (so sharing allocates nothing).
func runBN(ws *Workspace, t bnTask) {
	nt := 1
	if ws != nil && t.batch*t.c*t.hw >= minParallelElems && t.c > 1 {
		nt = min(threadCount(), t.c)
	}
	if nt < 2 {
		t.run(ws, 0, t.c)
		return
	}
	ws.bn = t
	shareRange(ws, &ws.bn, t.c, nt)
}

// convBackTask is one convolution's backward pass whose batch is split.
type convBackTask struct {
	dx, dw, db, dy, x, w []float32
	dxw                  GradWrite
	d                    ConvDims
	partW, partB         [][]float32 // each helper share's gradient sums
	wino                 *PackedConv // the input gradient's Winograd weights, or nil
	wt                   *PackedA    // else W^T packed for its GEMMs, or nil
	share                int         // images a share
}

// run sums the gradients of images [from, to) into dw and db for the
// first share, else into the share's partial sums.
func (t *convBackTask) run(ws *Workspace, from, to int) {
	dw, db := t.dw, t.db
	if i := from/t.share - 1; i >= 0 {
		dw = t.partW[i][:len(t.dw)]
		if db != nil {
			db = t.partB[i][:len(t.db)]
		}
	}
	conv2DBackwardImages(ws, t.dx, t.dxw, dw, db, t.dy, t.x, t.w, t.wino, t.wt, from, to, t.d, false)
}

// convBackwardImages splits the images of a convolution's backward pass
// among nt goroutines and adds up their weight and bias gradients.
func convBackwardImages(ws *Workspace, c convBackTask, batch, nt int) {
	share := (batch + nt - 1) / nt
	shares := (batch + share - 1) / share
	// Partial sums, one per helper share, kept in the workspace and grown
	// on first use: nothing is allocated once warm.
	for len(ws.convBack.partW) < shares-1 {
		ws.convBack.partW = append(ws.convBack.partW, nil)
		ws.convBack.partB = append(ws.convBack.partB, nil)
	}
	c.partW, c.partB = ws.convBack.partW, ws.convBack.partB
	for i := range shares - 1 {
		if len(c.partW[i]) < len(c.dw) {
			c.partW[i] = make([]float32, len(c.dw))
		}
		if c.db != nil && len(c.partB[i]) < len(c.db) {
			c.partB[i] = make([]float32, len(c.db))
		}
	}
	c.share = share
	ws.convBack = c
	shareRange(ws, &ws.convBack, batch, nt)
	for i := range shares - 1 {
		for j, v := range c.partW[i][:len(c.dw)] {
			c.dw[j] += v
		}
		if c.db != nil {
			for j, v := range c.partB[i][:len(c.db)] {
				c.db[j] += v
			}
		}
	}
}

// convTask is one convolution whose work is split among goroutines.
type convTask struct {
	y, x, w        []float32
	packed         *PackedConv
	bias, residual []float32
	relu           bool
	d              ConvDims
	split          convSplit
	batch          int // with splitTileRows: the images
}

// convSplit is what the range of a convTask counts.
type convSplit uint8

const (
	splitImages    convSplit = iota // images of the batch
	splitTileRows                   // Winograd tile rows of every image
	splitRowBlocks                  // blocks of output rows of one image (convRowBlocks)
	splitIm2col                     // input channels of one image's im2col into y (im2colShared)
)

func (t *convTask) run(ws *Workspace, from, to int) {
	switch t.split {
	case splitTileRows:
		conv2DWinograd(ws, t.y, t.x, t.packed, t.bias, t.residual, t.relu, 0, t.batch, from, to, t.d)
	case splitIm2col:
		im2colChannels(t.y, t.x, t.d, from, to)
	case splitRowBlocks:
		if need := t.d.ColFloats(); len(ws.Col) < need {
			ws.Col = make([]float32, need) // a helper's workspace, on its first convolution
		}
		convRowBlocks(ws, t.y, t.x, t.w, t.packed.gemmA(), Epilogue{Bias: t.bias, Residual: t.residual, LdR: t.d.OH * t.d.OW, ReLU: t.relu}, from, to, t.d)
	default:
		conv2DImages(ws, t.y, t.x, t.w, t.packed, t.bias, t.residual, t.relu, from, to, t.d, false)
	}
}

// shareConv splits c's work of the given kind among nt goroutines: the
// batch's images, the tile rows of a Winograd conv (for a batch too small
// to split), or the blocks of output rows of a one-image im2col conv. The
// task lives in the workspace, so sharing it allocates nothing.
func shareConv(ws *Workspace, c convTask, split convSplit, batch, nt int) {
	c.split, c.batch = split, batch
	n := batch
	switch split {
	case splitTileRows:
		n, _ = c.d.tiles()
	case splitRowBlocks:
		rows := c.d.im2colBlockRows()
		n = (c.d.OH + rows - 1) / rows
	}
	ws.conv = c
	shareRange(ws, &ws.conv, n, nt)
}

func worker() {
	ws := NewWorkspace(0)
	for {
		t := nextTask()
		if t.job != nil {
			t.job.run(ws, t.from, t.to)
			t.done.done()
			continue
		}
		var epi *Epilogue
		if t.hasEpi {
			epi = &t.epi
		}
		pa := t.pa
		if t.hasView {
			pa = &t.paView
		}
		gemmSerial(ws, t.transA, t.transB, t.m, t.n, t.k, t.a, t.lda, t.b, t.ldb, t.beta, t.c, t.ldc, epi, pa)
		t.done.done()
	}
}

// SetSpinWait sets how long a goroutine that waits for the others of a
// parallel layer, or for the next layer's work, polls before it blocks; it
// returns the previous setting. The default is 1ms.
//
// A goroutine that blocks parks its thread, and on a virtual machine an
// idle virtual CPU is halted: waking it can cost more than a layer's share
// of the work, and until it wakes, the caller does the share itself. The
// thread pools of ONNX Runtime and OpenMP poll for the same reason.
// Polling yields to any other goroutine that is ready to run, but it keeps
// a CPU busy for up to this long after the last layer; 0 turns it off.
func SetSpinWait(d time.Duration) time.Duration {
	return time.Duration(spinWait.Swap(int64(max(0, d))))
}

var spinWait atomic.Int64

func init() { spinWait.Store(int64(time.Millisecond)) }

// poll calls ready, yielding between calls, until it reports true (then
// poll does too) or the spin wait has passed.
func poll(ready func() bool) bool {
	wait := time.Duration(spinWait.Load())
	if wait == 0 {
		return ready()
	}
	deadline := time.Now().Add(wait)
	for i := 0; ; i++ {
		if ready() {
			return true
		}
		if i%32 == 31 && time.Now().After(deadline) {
			return false
		}
		runtime.Gosched()
	}
}

// nextTask is a worker's next task: polled for, then waited for.
func nextTask() gemmTask {
	var t gemmTask
	if poll(func() bool {
		select {
		case t = <-workers:
			return true
		default:
			return false
		}
	}) {
		return t
	}
	return <-workers
}

// shares counts the shares of a parallel layer that the workers still
// run; the caller polls it, then waits on it.
type shares struct {
	wg   sync.WaitGroup
	left atomic.Int32
}

func (s *shares) add() {
	s.left.Add(1)
	s.wg.Add(1)
}

func (s *shares) done() {
	s.left.Add(-1)
	s.wg.Done()
}

func (s *shares) wait() {
	poll(func() bool { return s.left.Load() == 0 })
	s.wg.Wait()
}

// minParallelFlops is the work below which splitting costs more than it saves.
const minParallelFlops = 1 << 24

// gemmParallel splits the columns of C among threads goroutines, each
// share a GEMM of its own: in multiples of the kernel's tile width, or
// with AVX-512 of half of it (16 columns, one 64-byte line of a row of B
// and C), which the 16-column kernels take at about half a tile's cost.
// resnet's 28x28 layers at batch 1 (784 columns) split 416 + 368 in
// whole tiles, 13 tiles against 11.5; in halves 400 + 384, 12.5 against
// 12: each of five such convs 3-4% faster, resnet50 at batch 1 32.9 ->
// 32.0 ms (medians of 8 interleaved runs).
func gemmParallel(ws *Workspace, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, epi *Epilogue, pa *PackedA) {
	nt := threadCount()
	mr, nr := tileShape()
	if nt < 2 || 2*m*n*k < minParallelFlops {
		gemmSerial(ws, transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc, epi, pa)
		return
	}
	// Few columns (late layers at batch 1: 7x7 = 49) split badly or not at
	// all in tiles of nr; their many rows split evenly instead.
	if tiles := (n + nr - 1) / nr; tiles < 4*nt && m >= 4*nt*mr {
		gemmRows(ws, nt, mr, transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc, epi, pa)
		return
	}
	if n < 2*nr {
		gemmSerial(ws, transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc, epi, pa)
		return
	}
	step := nr
	if useAVX512 {
		step = nr / 2
	}
	share := (n + nt - 1) / nt
	share = (share + step - 1) / step * step
	sh := &ws.shares
	for j0 := share; j0 < n; j0 += share {
		cols := min(share, n-j0)
		t := gemmTask{transA: transA, transB: transB, m: m, n: cols, k: k, a: a, lda: lda,
			beta: beta, c: c[j0:], ldc: ldc, done: sh, pa: pa}
		if transB {
			t.b, t.ldb = b[j0*ldb:], ldb
		} else {
			t.b, t.ldb = b[j0:], ldb
		}
		if epi != nil {
			t.epi, t.hasEpi = *epi, true
			if epi.Residual != nil {
				t.epi.Residual = epi.Residual[j0:]
			}
		}
		sh.add()
		workers <- t
	}
	gemmSerial(ws, transA, transB, m, min(share, n), k, a, lda, b, ldb, beta, c, ldc, epi, pa)
	sh.wait()
}

// gemmRows is gemmParallel split by rows, in shares of whole panels of mr
// rows: each share has its rows of A (or of its packing), C, the bias and
// the residual.
func gemmRows(ws *Workspace, nt, mr int, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, epi *Epilogue, pa *PackedA) {
	share := (m + nt - 1) / nt
	share = (share + mr - 1) / mr * mr
	sh := &ws.shares
	for i0 := share; i0 < m; i0 += share {
		rows := min(share, m-i0)
		t := gemmTask{transA: transA, transB: transB, m: rows, n: n, k: k, lda: lda, b: b, ldb: ldb,
			beta: beta, c: c[i0*ldc:], ldc: ldc, done: sh}
		if transA {
			t.a = a[i0:]
		} else {
			t.a = a[i0*lda:]
		}
		if pa != nil {
			t.paView, t.hasView = *pa, true
			t.paView.row0 = pa.row0 + i0
		}
		if epi != nil {
			t.epi, t.hasEpi = *epi, true
			if epi.Bias != nil {
				t.epi.Bias = epi.Bias[i0:]
			}
			if epi.Residual != nil {
				t.epi.Residual = epi.Residual[i0*epi.LdR:]
			}
		}
		sh.add()
		workers <- t
	}
	gemmSerial(ws, transA, transB, min(share, m), n, k, a, lda, b, ldb, beta, c, ldc, epi, pa)
	sh.wait()
}
