package frontend

import (
	"strings"
	"testing"

	"github.com/resnetc/resnetc/expand"
)

// base is a small valid network; cases replace one of its lines (or add
// some) to make exactly one mistake.
const base = `network tiny
param width = 16
param kind = A
input 3 x 32 x 32

block basic(c, stride = 1) {
  conv1: conv c 3x3 stride stride pad 1
  bn1:   bn
  relu
  conv2: conv c 3x3 pad 1
  bn2:   bn
  add kind
  relu
  projection downsample {
    conv c 1x1 stride stride
    bn
  }
}

conv1:  conv width 3x3 pad 1
bn1:    bn
relu
layer1: 2 x basic(width)
layer2: 2 x basic(2*width) first(stride = 2)
avgpool
fc:     fc 10
`

// edit returns base with old replaced by new (old must occur once).
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if strings.Count(base, old) != 1 {
		t.Fatalf("edit: %q occurs %d times in base", old, strings.Count(base, old))
	}
	return strings.Replace(base, old, new, 1)
}

func TestBaseIsValid(t *testing.T) {
	if _, err := Compile("tiny.rn", []byte(base), nil); err != nil {
		t.Fatal(err)
	}
}

// TestErrorMessages pins the exact text of the messages for distinct
// mistakes: each names file:line:col, says what was expected and what was
// found, and suggests the closest name where one is close.
func TestErrorMessages(t *testing.T) {
	cases := errorCases
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := base
			if c.old != "" {
				src = edit(t, c.old, c.new)
			}
			defs, err := expand.ParseDefines(c.defines)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compile("tiny.rn", []byte(src), defs)
			if err == nil {
				t.Fatalf("no error; want %q", c.want)
			}
			if err.Error() != c.want {
				t.Errorf("error:\n got: %s\nwant: %s", err, c.want)
			}
		})
		if seen[c.want] {
			t.Errorf("%s: two cases expect the same message", c.name)
		}
		seen[c.want] = true
	}
	if len(cases) < 15 {
		t.Errorf("only %d cases; the table must pin at least 15 distinct mistakes", len(cases))
	}
}

// errorCases are distinct mistakes, each an edit of base, with the exact
// message they must produce. The fuzz test seeds its corpus with them too.
var errorCases = []struct {
	name    string
	old     string // replaced in base ...
	new     string // ... by this
	defines []string
	want    string
}{
	{"no_header", "network tiny", "netwrk tiny", nil, "tiny.rn:1:1: expected \"network\", found \"netwrk\""},
	{"missing_input", "input 3 x 32 x 32\n", "", nil, "tiny.rn:1:1: network tiny has no input; declare one, as in \"input 3 x 224 x 224\""},
	{"two_inputs", "input 3 x 32 x 32\n", "input 3 x 32 x 32\ninput 1 x 28 x 28\n", nil, "tiny.rn:5:1: input is already declared at tiny.rn:4:1"},
	{"input_2d", "input 3 x 32 x 32", "input 32 x 32", nil, "tiny.rn:4:7: input shape must be channels x height x width, found 2 dimensions"},
	{"unknown_op", "avgpool\n", "avgpol\n", nil, "tiny.rn:25:1: unknown operation \"avgpol\": expected one of avgpool, bn, conv, fc, maxpool, relu; did you mean \"avgpool\"?"},
	{"unknown_block", "layer1: 2 x basic(width)", "layer1: 2 x basik(width)", nil, "tiny.rn:23:9: unknown block \"basik\"; did you mean \"basic\"?"},
	{"param_typo", "conv1:  conv width 3x3 pad 1", "conv1:  conv widht 3x3 pad 1", nil, "tiny.rn:20:14: conv output channels must be a number, found the word \"widht\"; did you mean \"width\"?"},
	{"missing_channels", "conv1:  conv width 3x3 pad 1", "conv1:  conv", nil, "tiny.rn:20:9: conv needs the number of output channels, as in \"conv 64 3x3 stride 2 pad 1\""},
	{"missing_kernel", "conv1:  conv width 3x3 pad 1", "conv1:  conv width", nil, "tiny.rn:20:9: conv needs a kernel size, as in \"conv 64 3x3 stride 2 pad 1\""},
	{"kernel_not_2d", "conv1:  conv width 3x3 pad 1", "conv1:  conv width 3 pad 1", nil, "tiny.rn:20:20: conv: expected a kernel size like 3x3, found \"3\""},
	{"option_typo", "conv1:  conv width 3x3 pad 1", "conv1:  conv width 3x3 strid 2", nil, "tiny.rn:20:24: conv: unexpected \"strid\"; expected one of the options pad, stride, bias; did you mean \"stride\"?"},
	{"option_twice", "conv1:  conv width 3x3 pad 1", "conv1:  conv width 3x3 pad 1 pad 1", nil, "tiny.rn:20:30: conv: pad is given twice"},
	{"option_no_value", "conv1:  conv width 3x3 pad 1", "conv1:  conv width 3x3 pad", nil, "tiny.rn:20:24: conv: pad needs a value, as in \"conv 64 3x3 stride 2 pad 1\""},
	{"bn_args", "bn1:    bn\n", "bn1:    bn 16\n", nil, "tiny.rn:21:12: bn: unexpected \"16\"; bn takes nothing more, as in \"bn\""},
	{"unnamed_weights", "conv1:  conv width 3x3 pad 1", "conv width 3x3 pad 1", nil, "tiny.rn:20:1: conv has weights and needs a name, as in \"conv1: conv ...\""},
	{"duplicate_label", "relu\nlayer1", "conv1: relu\nlayer1", nil, "tiny.rn:22:1: conv1 is already defined at tiny.rn:20:1"},
	{"no_class_vector", "avgpool\nfc:     fc 10\n", "", nil, "tiny.rn:13:3: the network ends with 32x16x16 (layer2.1.relu_2) but must end with a vector of class scores; end it with avgpool and fc"},
	{"bad_character", "fc:     fc 10", "fc:     fc 10 $", nil, "tiny.rn:26:15: unexpected character '$'"},
	{"unclosed_paren", "layer1: 2 x basic(width)", "layer1: 2 x basic(width", nil, "tiny.rn:23:24: expected \")\", found end of line"},
	{"missing_newline", "avgpool\nfc:", "avgpool fc:", nil, "tiny.rn:25:11: expected end of line, found \":\""},
	{"kernel_too_big", "conv1:  conv width 3x3 pad 1", "conv1:  conv width 33x33", nil, "tiny.rn:20:9: conv1: the 32x32 input map (padded by 0) is smaller than the 33x33 window"},
	{"maxpool_pad", "relu\nlayer1", "relu\nmaxpool 3x3 stride 2 pad 2\nlayer1", nil, "tiny.rn:23:1: maxpool: padding 2 is more than half the 3x3 window"},
	{"block_arg_typo", "first(stride = 2)", "first(strid = 2)", nil, "tiny.rn:24:34: block basic has no parameter \"strid\"; did you mean \"stride\"?"},
	{"block_arg_missing", "layer1: 2 x basic(width)", "layer1: 2 x basic()", nil, "tiny.rn:23:9: block basic needs a value for its parameter c (declared at tiny.rn:6:13)"},
	{"block_too_many_args", "layer1: 2 x basic(width)", "layer1: 2 x basic(width, 1, 2)", nil, "tiny.rn:23:29: block basic takes 2 arguments (c, stride), found 3"},
	{"stage_too_large", "layer1: 2 x basic(width)", "layer1: 9999 x basic(width)", nil, "tiny.rn:23:9: network too large: stage layer1 of 9999 x basic would exceed 50000 operations"},
	{"forward_reference", "param width = 16", "param width = kind2\nparam kind2 = 3", nil, "tiny.rn:2:15: parameter kind2 is used before its declaration at tiny.rn:3:1"},
	{"x_as_name", "param width = 16", "param width = x", nil, "tiny.rn:2:15: unexpected \"x\": x only separates sizes, as in \"3 x 224 x 224\", and cannot be a name"},
	{"param_without_equals", "param width = 16", "param width 16", nil, "tiny.rn:2:13: expected \"=\", found \"16\""},
	{"maxpool_needs_stride", "relu\nlayer1", "relu\nmaxpool 3x2\nlayer1", nil, "tiny.rn:23:1: maxpool: a 3x2 window needs an explicit stride, as in \"maxpool 3x2 stride 1\""},
	{"unused_projection_checked", "    bn\n  }", "    bn\n    relu 2\n  }", nil, "tiny.rn:17:10: relu: unexpected \"2\"; relu takes nothing more, as in \"relu\""},
	{"define_twice", "", "", []string{"width=8", "width=4"}, "tiny.rn: -D width is given twice"},
	{"zero_blocks", "layer1: 2 x basic(width)", "layer1: 0 x basic(width)", nil, "tiny.rn:23:9: stage layer1 needs at least one block, found 0"},
	{"division_by_zero", "basic(2*width)", "basic(2*width/0)", nil, "tiny.rn:24:26: division by zero"},
	{"number_too_large", "param width = 16", "param width = 99999999999999999999", nil, "tiny.rn:2:15: number 99999999999999999999 is too large"},
	{"size_out_of_range", "param width = 16", "param width = 100000", nil, "tiny.rn:20:14: conv output channels must be between 0 and 65536, found 100000"},
	{"word_arithmetic", "basic(2*width)", "basic(2*widht)", nil, "tiny.rn:24:20: cannot compute with the word \"widht\": it is not a parameter; did you mean \"width\"?"},
	{"duplicate_param", "param kind = A", "param kind = A\nparam width = 8", nil, "tiny.rn:4:1: parameter width is already declared at tiny.rn:2:1"},
	{"unknown_kind", "param kind = A", "param kind = D", nil, "tiny.rn:12:7: unknown shortcut kind \"D\": expected identity, A, B, C, none or a parameter holding one"},
	{"identity_mismatch", "param kind = A", "param kind = identity", nil, "tiny.rn:12:3: layer2.0: an identity shortcut cannot join the block input 16x32x32 (layer1.1.relu_2, tiny.rn:13:3) and the residual branch 32x16x16 (layer2.0.bn2, tiny.rn:11:10); use shortcut A, B or C"},
	{"option_a_fewer_channels", "basic(2*width) first(stride = 2)", "basic(width/2)", nil, "tiny.rn:12:3: layer2.0: option A pads channels with zeros and cannot join the block input 16x32x32 (layer1.1.relu_2, tiny.rn:13:3) and the residual branch 8x32x32 (layer2.0.bn2, tiny.rn:11:10), which has fewer channels; use B or C"},
	{"option_a_no_stride", "  conv2: conv c 3x3 pad 1", "  conv2: conv c 3x3", nil, "tiny.rn:12:3: layer1.0: option A cannot join the block input 16x32x32 (relu, tiny.rn:22:1) and the residual branch 16x30x30 (layer1.0.bn2, tiny.rn:11:10): no stride subsamples 32x32 to 30x30"},
	{"b_without_projection", "  projection downsample {\n    conv c 1x1 stride stride\n    bn\n  }\n", "", []string{"kind=B"}, "tiny.rn:12:3: layer2.0: shortcut B needs a projection to join the block input 16x32x32 (layer1.1.relu_2, tiny.rn:13:3) and the residual branch 32x16x16 (layer2.0.bn2, tiny.rn:11:10), but block basic has none; add \"projection downsample { ... }\""},
	{"projection_mismatch", "    conv c 1x1 stride stride", "    conv 2*c 1x1 stride stride", []string{"kind=C"}, "tiny.rn:14:3: layer1.0: projection downsample gives 32x32x32 (layer1.0.downsample.1, tiny.rn:16:5) but the residual branch gives 16x32x32 (layer1.0.bn2, tiny.rn:11:10)"},
	{"add_outside_block", "avgpool\n", "add A\navgpool\n", nil, "tiny.rn:25:1: add joins a block's shortcut and is only allowed once, directly inside a block template, not in the network body"},
	{"stage_in_block", "  relu\n  projection", "  relu\n  inner: 2 x basic(c)\n  projection", nil, "tiny.rn:14:3: blocks cannot be nested: block basic contains a stage of basic"},
	{"second_add", "  add kind\n", "  add kind\n  add kind\n", nil, "tiny.rn:13:3: block basic has a second add; the first is at tiny.rn:12:3"},
	{"add_without_kind", "  add kind\n", "  add\n", nil, "tiny.rn:12:3: add needs one shortcut kind (identity, A, B, C or none), as in \"add B\""},
	{"stage_without_name", "layer1: 2 x basic(width)", "2 x basic(width)", nil, "tiny.rn:23:1: a stage needs a name, as in \"layer1: 2 x basic(64)\""},
	{"op_as_block", "layer1: 2 x basic(width)", "layer1: 2 x conv(width)", nil, "tiny.rn:23:9: conv is an operation, not a block template; write \"conv\" without parentheses"},
	{"block_as_op", "avgpool\n", "basic\navgpool\n", nil, "tiny.rn:25:1: basic is a block template: instantiate it with arguments, as in \"basic(64)\""},
	{"define_unknown", "", "", []string{"widht=32"}, "tiny.rn: -D widht=32: the spec has no parameter \"widht\"; did you mean \"width\"?"},
	{"define_bad_value", "", "", []string{"width=3.5"}, "tiny.rn: -D width=3.5: value \"3.5\" must be a non-negative integer or a word"},
	{"reserved_param", "param width = 16", "param input = 16", nil, "tiny.rn:2:1: \"input\" is a reserved word and cannot name a parameter"},
}
