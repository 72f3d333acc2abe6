// Package peak measures the machine's float32 multiply-add ceiling, the
// denominator of the benchmark's "fraction of peak" column.
package peak

import (
	"runtime"
	"sync"
	"time"
)

//go:generate sh -c "cd ../../nn/_asm && go run . -peak -out ../../bench/peak/peak_amd64.s -stubs /tmp/peak_stub_amd64.go -pkg peak && mv /tmp/peak_stub_amd64.go ../../bench/peak/"

// iterations per timed call: about 5 ms at 3 GHz.
const iterations = 1 << 21

// GFLOPS returns the best float32 FMA rate, in GFLOP/s, that threads
// goroutines reach together over tries timed runs of a register-only
// FMA loop (AVX-512 where the machine has it, else AVX2, as Kind says),
// or 0 where there is neither (the column is then left empty).
func GFLOPS(threads, tries int) float64 {
	if !available() {
		return 0
	}
	best := 0.0
	_, flopsPerIteration := loop(1)
	for range tries {
		var wg sync.WaitGroup
		start := time.Now()
		for range threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				v, _ := loop(iterations)
				sink(v)
			}()
		}
		wg.Wait()
		rate := float64(threads*iterations*flopsPerIteration) / time.Since(start).Seconds() / 1e9
		best = max(best, rate)
	}
	return best
}

var sinkValue float32
var sinkMu sync.Mutex

// sink keeps the loop's result alive so that nothing is optimised away.
func sink(v float32) {
	sinkMu.Lock()
	sinkValue += v
	sinkMu.Unlock()
}
