// Package filter implements the compute v1 `filter` query parameter of list
// and aggregatedList for the fake Compute Engine server.
//
// Resources are matched as decoded JSON objects (encoding/json with UseNumber),
// never as typed structs, so the package works for every resource kind the
// fake stores.
//
// Compute accepts two dialects that cannot be mixed in one expression (see the
// `filter` parameter of any list method in the discovery document):
//
//   - The regular-expression dialect, sent by kubernetes/cloud-provider-gcp and
//     other older clients: `name eq k8s-fw-.*`, or several parenthesised terms
//     `(name eq k8s-.*) (network ne ".*/default")` that are ANDed. The literal
//     is an RE2 expression that must match the whole field value.
//   - The AIP-160 dialect: `name != example-instance`, `labels.owner:*`,
//     `(cpuPlatform = "Intel Skylake") OR (scheduling.automaticRestart = true)`.
//
// An expression is in the regular-expression dialect when ` eq ` or ` ne `
// appears in it outside quotes.
//
// Operator precedence in the AIP-160 dialect follows the AIP-160 EBNF
// (google.aip.dev/160 and its ebnf-filtering.txt), which differs from most
// programming languages: from tightest to loosest, NOT and `-`, then OR, then
// juxtaposition (`a b`), then AND. So `a AND b OR c` means `a AND (b OR c)`,
// and the discovery document's `(x) OR (y) AND (z)` means `(x OR y) AND z`.
//
// Semantics worth knowing:
//   - A dotted field traverses objects; arrays met on the way or at the end are
//     traversed element by element, and a restriction holds if it holds for any
//     element (`tags.items = k8s-node`, `networkInterfaces.networkIP = 10.0.0.2`).
//   - `!=` and `ne` are the negation of `=` and `eq`: they hold when the field
//     is missing, and on a repeated field when no element equals the value.
//     Every other operator fails on a missing field.
//   - Non-string scalars compare as their JSON text (`true`, `1000`). In the
//     AIP-160 dialect two values that both parse as decimal numbers compare
//     numerically, which is what int64 fields (JSON strings such as "1234")
//     need; other values compare as strings, so RFC 3339 timestamps order
//     lexically.
//   - `*` in an AIP-160 `=`, `!=` or `:` value is a wildcard matching any run of
//     characters (`name = "k8s-*"`); there is no way to escape it.
//
// The AIP-160 dialect is parsed by a small recursive-descent parser rather than
// go.einride.tech/aip/filtering. That parser needs no declarations to parse,
// but its lexer follows the AIP-160 EBNF strictly and treats `-` and `.` as
// tokens, so it rejects bare values that compute clients send and that the
// discovery document itself gives as examples: `name != example-instance`
// fails with "unexpected trailing token -", and `networkIP = 10.0.0.2` and
// `creationTimestamp > 2020-01-01T00:00:00Z` fail likewise. Its errors are
// also multi-line caret diagrams rather than sentences a client can show.
//
// Parse never panics and bounds its work: input longer than maxLength bytes
// or nested deeper than maxDepth parentheses is rejected, regular expressions
// are RE2 (linear time), and wildcards are compiled to RE2 as well.
package filter

import (
	"fmt"
	"strconv"
	"strings"
)

const (
	// maxLength bounds the expression size in bytes; real filters are a few
	// hundred bytes at most.
	maxLength = 4096
	// maxDepth bounds parenthesis nesting so the recursive-descent parser
	// cannot exhaust the stack.
	maxDepth = 64
)

// Filter is a parsed list filter. The zero value and a nil *Filter match
// every resource.
type Filter struct {
	root node
}

// Parse parses a compute list filter in either dialect. An empty or all-space
// expression matches everything.
func Parse(expr string) (*Filter, error) {
	if len(expr) > maxLength {
		return nil, fmt.Errorf("the filter is %d bytes long; at most %d bytes are allowed", len(expr), maxLength)
	}
	if strings.TrimSpace(expr) == "" {
		return &Filter{}, nil
	}
	var (
		root node
		err  error
	)
	if usesRegexpDialect(expr) {
		root, err = parseRegexpDialect(expr)
	} else {
		root, err = parseAIPDialect(expr)
	}
	if err != nil {
		return nil, err
	}
	return &Filter{root: root}, nil
}

// Match reports whether the resource matches.
func (f *Filter) Match(resource map[string]any) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root.match(resource)
}

// node is one boolean expression of a parsed filter.
type node interface {
	match(resource map[string]any) bool
}

// conjunction holds when every part holds (AND, juxtaposition, and the
// parenthesised terms of the regular-expression dialect).
type conjunction []node

func (c conjunction) match(resource map[string]any) bool {
	for _, n := range c {
		if !n.match(resource) {
			return false
		}
	}
	return true
}

// disjunction holds when any part holds (OR).
type disjunction []node

func (d disjunction) match(resource map[string]any) bool {
	for _, n := range d {
		if n.match(resource) {
			return true
		}
	}
	return false
}

// negation holds when its operand does not (NOT, `-`, `!=` and `ne`).
type negation struct {
	operand node
}

func (n negation) match(resource map[string]any) bool {
	return !n.operand.match(resource)
}

// usesRegexpDialect reports whether expr contains the operator ` eq ` or
// ` ne ` outside a quoted string, which is how compute tells the dialects
// apart. A quote opens a string only at the start of a token, so apostrophes
// inside bare words do not hide an operator.
func usesRegexpDialect(expr string) bool {
	var quote byte
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		if quote != 0 {
			switch c {
			case '\\':
				i++
			case quote:
				quote = 0
			}
			continue
		}
		if (c == '"' || c == '\'') && (i == 0 || opensToken(expr[i-1])) {
			quote = c
			continue
		}
		if isSpace(c) && i+3 < len(expr) && isSpace(expr[i+3]) {
			if op := expr[i+1 : i+3]; op == "eq" || op == "ne" {
				return true
			}
		}
	}
	return false
}

// opensToken reports whether a token may start right after c.
func opensToken(c byte) bool {
	return isSpace(c) || strings.IndexByte("()=<>!:", c) >= 0
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v':
		return true
	}
	return false
}

// errMixedDialects is returned whenever an expression in one dialect uses an
// operator of the other.
func errMixedDialects(detail string) error {
	return fmt.Errorf("the regular-expression operators eq and ne cannot be mixed with AIP-160 operators in one filter (%s)", detail)
}

// quoteInput returns part of the input in Go quotes for an error message, cut
// short so that an error about a long value stays readable.
func quoteInput(s string) string {
	const limit = 64
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:limit]) + "..."
}
