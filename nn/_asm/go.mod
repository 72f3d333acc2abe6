module github.com/resnetc/resnetc/nn/_asm

go 1.26.0

require github.com/mmcloughlin/avo v0.5.0

require (
	github.com/resnetc/resnetc v0.0.0-00010101000000-000000000000 // indirect
	golang.org/x/mod v0.43.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/tools v0.52.0 // indirect
)

replace github.com/resnetc/resnetc => ../..
