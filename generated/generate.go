// Package generated holds the Go packages that resnetc compiles from the
// paper's specs, committed so that they can be read and vendored. They are
// output, not source: change the specs or the compiler and regenerate.
package generated

//go:generate bash ../scripts/generate.sh
