//go:build !amd64

package peak

func available() bool    { return false }
func loop(n int) float32 { return 0 }
