// Package dsl parses resnetc network specifications (.rn files) into a
// syntax tree. It knows the grammar only; the meaning of operations, block
// templates and shortcuts is given to them by package expand.
package dsl

import "github.com/alecthomas/participle/v2/lexer"

// File is one parsed spec: a network header followed by parameters, the
// input shape, block templates and the layer statements of the network body.
type File struct {
	Pos   lexer.Position
	Name  string  `parser:"NL? \"network\" @Ident NL"`
	Items []*Item `parser:"@@*"`
}

// Item is one top-level line (or, for a block template, one braced group).
type Item struct {
	Pos   lexer.Position
	Param *Param `parser:"  @@"`
	Input *Input `parser:"| @@"`
	Block *Block `parser:"| @@"`
	Stmt  *Stmt  `parser:"| @@"`
}

// Param declares a named network parameter with its default value, which
// the command line may override with -D name=value.
type Param struct {
	Pos   lexer.Position
	Name  string `parser:"\"param\" @Ident \"=\""`
	Value *Expr  `parser:"@@ NL"`
}

// Input declares the per-image input shape, channels x height x width.
type Input struct {
	Pos   lexer.Position
	Shape *Shape `parser:"\"input\" @@ NL"`
}

// Block is a template for a residual (or plain) block, instantiated by
// stage statements with arguments bound to its parameters.
type Block struct {
	Pos    lexer.Position
	Name   string        `parser:"\"block\" @Ident"`
	Params []*BlockParam `parser:"\"(\" ( @@ ( \",\" @@ )* )? \")\" \"{\" NL"`
	Body   []*Stmt       `parser:"@@* \"}\" NL"`
}

// BlockParam is a block template parameter with an optional default.
type BlockParam struct {
	Pos     lexer.Position
	Name    string `parser:"@Ident"`
	Default *Expr  `parser:"( \"=\" @@ )?"`
}

// Stmt is one statement of the network body, a block body or a projection:
// an optional label followed by a projection, a stage or an operation.
type Stmt struct {
	Pos        lexer.Position
	Label      *Label      `parser:"( @@ \":\" )?"`
	Projection *Projection `parser:"( @@"`
	Stage      *Stage      `parser:"| @@"`
	Op         *Op         `parser:"| @@ ) NL"`
}

// Label names the module a statement creates. Inside a projection a label
// may be a number, as in PyTorch's nn.Sequential.
type Label struct {
	Pos  lexer.Position
	Name string `parser:"@( Ident | Int )"`
}

// Projection lists the operations of a block's projection shortcut (used
// by shortcut options B and C).
type Projection struct {
	Pos  lexer.Position
	Name string  `parser:"\"projection\" @Ident \"{\" NL"`
	Body []*Stmt `parser:"@@* \"}\""`
}

// Operations are the keywords that start an operation rather than a stage,
// so that "conv (2*c) 3x3" is not read as a block named conv; the grammar
// tag of Stage.Count lists the same words.
var Operations = []string{"conv", "bn", "relu", "maxpool", "avgpool", "fc", "add"}

// Stage instantiates a block template Count times. The First arguments
// override the template arguments of the stage's first block only.
type Stage struct {
	Pos   lexer.Position
	Count *Expr  `parser:"(?! \"conv\" | \"bn\" | \"relu\" | \"maxpool\" | \"avgpool\" | \"fc\" | \"add\" ) ( @@ \"x\" )?"`
	Block string `parser:"@Ident"`
	Args  []*Arg `parser:"\"(\" ( @@ ( \",\" @@ )* )? \")\""`
	First []*Arg `parser:"( \"first\" \"(\" ( @@ ( \",\" @@ )* )? \")\" )?"`
}

// Arg is a block argument, positional or named.
type Arg struct {
	Pos   lexer.Position
	Name  string `parser:"( @Ident \"=\" )?"`
	Value *Expr  `parser:"@@"`
}

// Op is an operation with its arguments, such as "conv 64 3x3 stride 2".
// Which arguments an operation takes is decided by package expand.
type Op struct {
	Pos  lexer.Position
	Name string   `parser:"(?! \"network\" | \"param\" | \"input\" | \"block\" | \"projection\" | \"first\" | \"x\" ) @Ident"`
	Args []*Shape `parser:"@@*"`
}

// Shape is a single expression or a list of expressions joined by "x",
// as in "3x3" or "channels x size x size".
type Shape struct {
	Pos   lexer.Position
	Dims  string  `parser:"  @Dims"`
	Exprs []*Expr `parser:"| @@ ( \"x\" @@ )*"`
}

// Expr is an integer expression or a bare word: terms joined by + and -.
type Expr struct {
	Pos   lexer.Position
	Left  *Term     `parser:"@@"`
	Right []*OpTerm `parser:"@@*"`
}

// OpTerm is one "+ term" or "- term" of an expression.
type OpTerm struct {
	Pos  lexer.Position
	Op   string `parser:"@( \"+\" | \"-\" )"`
	Term *Term  `parser:"@@"`
}

// Term is factors joined by * and /.
type Term struct {
	Pos   lexer.Position
	Left  *Factor     `parser:"@@"`
	Right []*OpFactor `parser:"@@*"`
}

// OpFactor is one "* factor" or "/ factor" of a term.
type OpFactor struct {
	Pos    lexer.Position
	Op     string  `parser:"@( \"*\" | \"/\" )"`
	Factor *Factor `parser:"@@"`
}

// Factor is an integer literal, a name (a parameter or a word such as a
// shortcut kind) or a parenthesised expression.
type Factor struct {
	Pos   lexer.Position
	Int   string `parser:"  @Int"`
	Ident string `parser:"| (?! \"x\" ) @Ident"`
	Sub   *Expr  `parser:"| \"(\" @@ \")\""`
}
