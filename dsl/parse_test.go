package dsl

import (
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseShapesAndStages(t *testing.T) {
	src := "# comment line\n\nnetwork n   # trailing comment\n" +
		"input c x 2*s x (s+1)\n" +
		"l1: 3 x basic(64, stride = 2) first(stride = 1)\n" +
		"c1: conv (2*c) 3x3 stride s\n" +
		"relu" // no final newline
	f, err := Parse("t.rn", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ignorePos := cmpopts.IgnoreTypes(lexer.Position{})
	if f.Name != "n" || len(f.Items) != 4 {
		t.Fatalf("name %q, %d items", f.Name, len(f.Items))
	}
	id := func(s string) *Expr { return &Expr{Left: &Term{Left: &Factor{Ident: s}}} }
	num := func(s string) *Expr { return &Expr{Left: &Term{Left: &Factor{Int: s}}} }
	mul := func(a, b *Factor) *Expr {
		return &Expr{Left: &Term{Left: a, Right: []*OpFactor{{Op: "*", Factor: b}}}}
	}
	wantInput := &Input{Shape: &Shape{Exprs: []*Expr{
		id("c"),
		mul(&Factor{Int: "2"}, &Factor{Ident: "s"}),
		{Left: &Term{Left: &Factor{Sub: &Expr{Left: &Term{Left: &Factor{Ident: "s"}}, Right: []*OpTerm{{Op: "+", Term: &Term{Left: &Factor{Int: "1"}}}}}}}},
	}}}
	if diff := cmp.Diff(wantInput, f.Items[0].Input, ignorePos); diff != "" {
		t.Errorf("input (-want +got):\n%s", diff)
	}
	wantStage := &Stmt{Label: &Label{Name: "l1"}, Stage: &Stage{
		Count: num("3"), Block: "basic",
		Args:  []*Arg{{Value: num("64")}, {Name: "stride", Value: num("2")}},
		First: []*Arg{{Name: "stride", Value: num("1")}},
	}}
	if diff := cmp.Diff(wantStage, f.Items[1].Stmt, ignorePos); diff != "" {
		t.Errorf("stage (-want +got):\n%s", diff)
	}
	// "conv (2*c)" is an operation whose first argument is parenthesised,
	// not a block called conv.
	wantConv := &Stmt{Label: &Label{Name: "c1"}, Op: &Op{Name: "conv", Args: []*Shape{
		{Exprs: []*Expr{{Left: &Term{Left: &Factor{Sub: mul(&Factor{Int: "2"}, &Factor{Ident: "c"})}}}}},
		{Dims: "3x3"}, {Exprs: []*Expr{id("stride")}}, {Exprs: []*Expr{id("s")}},
	}}}
	if diff := cmp.Diff(wantConv, f.Items[2].Stmt, ignorePos); diff != "" {
		t.Errorf("conv (-want +got):\n%s", diff)
	}
	if got := f.Items[3].Stmt.Pos; got.Line != 7 || got.Column != 1 {
		t.Errorf("relu at %d:%d, want 7:1", got.Line, got.Column)
	}
}

func TestParseErrors(t *testing.T) {
	for src, want := range map[string]string{
		"":                                      `t.rn:1:1: expected "network", found end of file`,
		"network\n":                             `t.rn:1:8: expected a name, found end of line`,
		"network n\ninput 3 x 4 x\n":            `t.rn:2:14: expected a name, found end of line`,
		"network n\nblock b( {\n}\n":            `t.rn:2:10: expected ")", found "{"`,
		"network n\nrelu @\n":                   `t.rn:2:6: unexpected character '@'`,
		"network n\n" + string(make([]byte, 3)): `t.rn:2:1: unexpected character '\x00'`,
	} {
		_, err := Parse("t.rn", []byte(src))
		if err == nil || err.Error() != want {
			t.Errorf("%q: got %v\nwant %s", src, err, want)
		}
	}
	deep := "network n\ninput 1 x 1 x 1\nfc: fc " + string(repeat('(', MaxNesting+1)) + "1"
	if _, err := Parse("t.rn", []byte(deep)); err == nil || err.Error() != "t.rn:3:72: brackets nest more than 64 deep" {
		t.Errorf("deep nesting: %v", err)
	}
	if _, err := Parse("t.rn", make([]byte, MaxSpecBytes+1)); err == nil {
		t.Error("oversized spec accepted")
	}
}

func repeat(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

func TestSuggest(t *testing.T) {
	names := []string{"width", "shortcut", "classes", "n"}
	for name, want := range map[string]string{
		"widht":    `; did you mean "width"?`,
		"shortcat": `; did you mean "shortcut"?`,
		"Classes":  `; did you mean "classes"?`,
		"depth":    "",
		"m":        "",
	} {
		if got := Suggest(name, names); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", name, got, want)
		}
	}
}
