//go:build !amd64

package peak

func available() bool           { return false }
func loop(n int) (float32, int) { return 0, 0 }

// Kind names the loop, for the reports.
func Kind() string { return "none" }
