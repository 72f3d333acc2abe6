package peak

import "testing"

// TestGFLOPS checks only that the probe runs and reports a plausible rate;
// its speed is the benchmark's business.
func TestGFLOPS(t *testing.T) {
	g := GFLOPS(1, 1)
	if available() && (g < 1 || g > 1e5) {
		t.Fatalf("GFLOPS(1, 1) = %v, want a rate between 1 and 1e5", g)
	}
	if !available() && g != 0 {
		t.Fatalf("GFLOPS without AVX-512 or AVX2 = %v, want 0", g)
	}
}
