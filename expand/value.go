package expand

import (
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"strconv"

	"github.com/resnetc/resnetc/dsl"
)

// value is what a parameter or expression evaluates to: an integer, or a
// word such as a shortcut kind (when word is not empty).
type value struct {
	n    int64
	word string
}

func (v value) String() string {
	if v.word != "" {
		return v.word
	}
	return strconv.FormatInt(v.n, 10)
}

// env maps names in scope to values: the network parameters, overlaid by
// a block's parameters inside a block template.
type env map[string]value

func (e env) with(bound map[string]value) env {
	out := make(env, len(e)+len(bound))
	for k, v := range e {
		out[k] = v
	}
	for k, v := range bound {
		out[k] = v
	}
	return out
}

func (e env) names() []string {
	ns := make([]string, 0, len(e))
	for k := range e {
		ns = append(ns, k)
	}
	return ns
}

var defineValue = regexp.MustCompile(`^(?:[0-9]+|[A-Za-z_][A-Za-z0-9_]*)$`)

// parseDefine reads the value of a -D name=value flag.
func parseDefine(s string) (value, error) {
	if !defineValue.MatchString(s) {
		return value{}, fmt.Errorf("value %q must be a non-negative integer or a word", s)
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return value{}, fmt.Errorf("number %s is too large", s)
		}
		return value{n: n}, nil
	}
	return value{word: s}, nil
}

// eval evaluates an expression. A name that is not in scope is a word,
// so "A" and "none" need no quoting; using a word where a number belongs
// is reported by the caller, with a suggestion.
func eval(e *dsl.Expr, vars env) (value, error) {
	v, err := evalTerm(e.Left, vars)
	if err != nil {
		return value{}, err
	}
	for _, r := range e.Right {
		w, err := evalTerm(r.Term, vars)
		if err != nil {
			return value{}, err
		}
		if v, err = arith(v, r.Op, w, dsl.PosOf(r.Pos), vars); err != nil {
			return value{}, err
		}
	}
	return v, nil
}

func evalTerm(t *dsl.Term, vars env) (value, error) {
	v, err := evalFactor(t.Left, vars)
	if err != nil {
		return value{}, err
	}
	for _, r := range t.Right {
		w, err := evalFactor(r.Factor, vars)
		if err != nil {
			return value{}, err
		}
		if v, err = arith(v, r.Op, w, dsl.PosOf(r.Pos), vars); err != nil {
			return value{}, err
		}
	}
	return v, nil
}

func evalFactor(f *dsl.Factor, vars env) (value, error) {
	switch {
	case f.Sub != nil:
		return eval(f.Sub, vars)
	case f.Ident != "":
		if v, ok := vars[f.Ident]; ok {
			return v, nil
		}
		return value{word: f.Ident}, nil
	default:
		n, err := strconv.ParseInt(f.Int, 10, 64)
		if err != nil {
			return value{}, dsl.Errorf(dsl.PosOf(f.Pos), "number %s is too large", f.Int)
		}
		return value{n: n}, nil
	}
}

func arith(a value, op string, b value, at dsl.Pos, vars env) (value, error) {
	for _, v := range []value{a, b} {
		if v.word != "" {
			return value{}, dsl.Errorf(at, "cannot compute with the word %q: it is not a parameter%s",
				v.word, dsl.Suggest(v.word, vars.names()))
		}
	}
	x, y := a.n, b.n
	var r int64
	overflow := false
	switch op {
	case "+":
		r = x + y
		overflow = (y > 0 && r < x) || (y < 0 && r > x)
	case "-":
		r = x - y
		overflow = (y > 0 && r > x) || (y < 0 && r < x)
	case "*":
		hi, lo := bits.Mul64(uint64(abs(x)), uint64(abs(y)))
		overflow = hi != 0 || lo > math.MaxInt64
		r = x * y
	case "/":
		if y == 0 {
			return value{}, dsl.Errorf(at, "division by zero")
		}
		r = x / y
		overflow = x == math.MinInt64 && y == -1
	}
	if overflow {
		return value{}, dsl.Errorf(at, "%d %s %d overflows", x, op, y)
	}
	return value{n: r}, nil
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
