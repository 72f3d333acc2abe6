module github.com/resnetc/resnetc

go 1.26.0

require github.com/alecthomas/participle/v2 v2.1.4

require (
	github.com/dave/jennifer v1.7.1
	github.com/google/go-cmp v0.7.0
	github.com/nlpodyssey/gopickle v0.2.0
)

require golang.org/x/sys v0.49.0
