package dsl

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// MaxSpecBytes bounds the size of a spec so that no input can make the
// parser run for long; the paper's largest network needs under 2 KiB.
const MaxSpecBytes = 1 << 20

// Newlines end statements, so a line of comments or blank lines folds into
// the one NL token that ends the statement before it.
var specLexer = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "NL", Pattern: `(?:[ \t\r]*(?:#[^\n]*)?\n)+`},
	{Name: "Dims", Pattern: `[0-9]+(?:x[0-9]+)+`},
	{Name: "Int", Pattern: `[0-9]+`},
	{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_]*`},
	{Name: "Punct", Pattern: `[-+*/(),:={}]`},
	{Name: "Whitespace", Pattern: `[ \t\r]+`},
})

var parser = participle.MustBuild[File](
	participle.Lexer(specLexer),
	participle.Elide("Whitespace"),
	participle.UseLookahead(4),
)

// Parse parses the spec src read from filename. Errors carry filename:line:col.
func Parse(filename string, src []byte) (*File, error) {
	if len(src) > MaxSpecBytes {
		return nil, &Error{Pos: Pos{File: filename, Line: 1, Col: 1},
			Msg: fmt.Sprintf("spec is %d bytes; the limit is %d", len(src), MaxSpecBytes)}
	}
	if err := checkNesting(filename, src); err != nil {
		return nil, err
	}
	// The final statement needs its end of line even when the file lacks one.
	text := string(src)
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	f, err := parser.ParseString(filename, text)
	if err != nil {
		return nil, syntaxError(filename, src, err)
	}
	return f, nil
}

// MaxNesting bounds how deep parentheses and braces may nest, so that the
// recursive-descent parser cannot exhaust the stack.
const MaxNesting = 64

func checkNesting(filename string, src []byte) error {
	depth, line, col := 0, 1, 1
	comment := false
	for _, c := range src {
		switch {
		case c == '\n':
			comment = false
		case comment:
		case c == '#':
			comment = true
		case c == '(' || c == '{':
			if depth++; depth > MaxNesting {
				return &Error{Pos: Pos{File: filename, Line: line, Col: col},
					Msg: fmt.Sprintf("brackets nest more than %d deep", MaxNesting)}
			}
		case c == ')' || c == '}':
			depth--
		}
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return nil
}

// syntaxError rewrites participle's errors into "expected X, found Y" form.
func syntaxError(filename string, src []byte, err error) error {
	var ute *participle.UnexpectedTokenError
	if errors.As(err, &ute) {
		at := PosOf(ute.Unexpected.Pos)
		if ute.Unexpected.EOF() {
			at = endOf(filename, src)
		}
		found := describeToken(ute.Unexpected)
		exp := describeExpected(ute.Message())
		switch {
		case ute.Unexpected.Value == "x" && !ute.Unexpected.EOF():
			return &Error{Pos: at, Msg: `unexpected "x": x only separates sizes, as in "3 x 224 x 224", and cannot be a name`}
		case exp == "":
			return &Error{Pos: at, Msg: "unexpected " + found}
		}
		return &Error{Pos: at, Msg: fmt.Sprintf("expected %s, found %s", exp, found)}
	}
	var perr participle.Error
	if errors.As(err, &perr) {
		msg := perr.Message()
		if m := invalidText.FindStringSubmatch(msg); m != nil {
			if text, err := strconv.Unquote(m[1]); err == nil {
				r, _ := utf8.DecodeRuneInString(text)
				msg = fmt.Sprintf("unexpected character %q", r)
			}
		}
		return &Error{Pos: PosOf(perr.Position()), Msg: msg}
	}
	return &Error{Pos: Pos{File: filename, Line: 1, Col: 1}, Msg: err.Error()}
}

var invalidText = regexp.MustCompile(`invalid input text ("(?:[^"\\]|\\.)*")`)

// describeExpected pulls the "(expected ...)" part out of participle's
// message and keeps what a person needs: the token that should come next,
// or the list of alternatives, without the rest of the grammar.
func describeExpected(msg string) string {
	i := strings.Index(msg, "(expected ")
	if i < 0 {
		return ""
	}
	exp := strings.TrimSuffix(msg[i+len("(expected "):], ")")
	alternatives := strings.Split(exp, " | ")
	for _, a := range alternatives {
		if firstSpace(a) > 0 {
			// A sequence: what is missing is its first token.
			exp = exp[:firstSpace(exp)]
			break
		}
	}
	exp = strings.ReplaceAll(exp, "<nl>", "end of line")
	exp = strings.ReplaceAll(exp, "<ident>", "a name")
	exp = strings.ReplaceAll(exp, "<int>", "a number")
	exp = strings.ReplaceAll(exp, "<dims>", "a size like 3x3")
	exp = strings.ReplaceAll(exp, " | ", " or ")
	return exp
}

// endOf is the position just after the last character of src.
func endOf(filename string, src []byte) Pos {
	p := Pos{File: filename, Line: 1, Col: 1}
	for _, c := range src {
		if c == '\n' {
			p.Line, p.Col = p.Line+1, 1
		} else {
			p.Col++
		}
	}
	return p
}

// firstSpace is the index of the first space outside a quoted literal.
func firstSpace(s string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"' && (i == 0 || s[i-1] != '\\'):
			quoted = !quoted
		case s[i] == ' ' && !quoted:
			return i
		}
	}
	return -1
}

func describeToken(t lexer.Token) string {
	switch {
	case t.EOF():
		return "end of file"
	case strings.Contains(t.Value, "\n"):
		return "end of line"
	}
	return fmt.Sprintf("%q", t.Value)
}
