// Package specs embeds the networks of the paper, so that the resnetc
// command can compile them by name from any directory.
package specs

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.rn
var files embed.FS

// Lookup returns the source of the spec called name ("resnet50" or
// "resnet50.rn") and whether it exists.
func Lookup(name string) ([]byte, bool) {
	b, err := files.ReadFile(strings.TrimSuffix(name, ".rn") + ".rn")
	return b, err == nil
}

// Names lists the embedded specs without their .rn suffix, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".rn"))
	}
	sort.Strings(names)
	return names
}
