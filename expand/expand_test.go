package expand

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/resnetc/resnetc/dsl"
)

// TestOperationKeywords keeps the grammar's list of operation keywords and
// the operations expand knows the same.
func TestOperationKeywords(t *testing.T) {
	want := append([]string(nil), dsl.Operations...)
	sort.Strings(want)
	got := opNames()
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dsl.Operations and expand's op table differ (-dsl +expand):\n%s", diff)
	}
}
