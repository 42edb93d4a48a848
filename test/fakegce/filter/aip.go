package filter

import (
	"fmt"
	"strings"
)

// aipParser is a recursive-descent parser for the AIP-160 dialect. It follows
// the EBNF of google.aip.dev/160 (ebnf-filtering.txt):
//
//	expression  : sequence {WS AND WS sequence}
//	sequence    : factor {WS factor}
//	factor      : term {WS OR WS term}
//	term        : [(NOT WS | MINUS)] simple
//	simple      : restriction | composite
//	composite   : LPAREN expression RPAREN
//	restriction : field comparator value
//
// so OR binds tighter than juxtaposition, which binds tighter than AND. It
// departs from the EBNF where compute does: a restriction must have a
// comparator (no global restrictions or functions), and a bare value runs to
// the next space or parenthesis, so `k8s-node`, `10.0.0.2` and timestamps
// need no quotes.
type aipParser struct {
	src   string
	pos   int
	depth int
}

func parseAIPDialect(src string) (node, error) {
	p := &aipParser{src: src}
	n, err := p.expression()
	if err != nil {
		return nil, err
	}
	// expression stops only at the end or at a ')'.
	if p.skipSpace(); p.pos < len(p.src) {
		return nil, fmt.Errorf("unexpected ')' at position %d without a matching '('", p.pos+1)
	}
	return n, nil
}

// expression parses sequences joined by AND.
func (p *aipParser) expression() (node, error) {
	var sequences conjunction
	for {
		sequence, err := p.sequence()
		if err != nil {
			return nil, err
		}
		sequences = append(sequences, sequence)
		if !p.acceptKeyword("AND") {
			break
		}
		if err := p.requireOperand("AND"); err != nil {
			return nil, err
		}
	}
	return flatten(sequences), nil
}

// sequence parses factors joined by juxtaposition, which compute, like exact
// matching in AIP-160, treats as AND.
func (p *aipParser) sequence() (node, error) {
	var factors conjunction
	for {
		factor, err := p.factor()
		if err != nil {
			return nil, err
		}
		factors = append(factors, factor)
		p.skipSpace()
		if p.pos == len(p.src) || p.src[p.pos] == ')' || p.peekKeyword("AND") {
			break
		}
	}
	return flatten(factors), nil
}

// factor parses terms joined by OR.
func (p *aipParser) factor() (node, error) {
	var terms disjunction
	for {
		term, err := p.term()
		if err != nil {
			return nil, err
		}
		terms = append(terms, term)
		if !p.acceptKeyword("OR") {
			break
		}
		if err := p.requireOperand("OR"); err != nil {
			return nil, err
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

// term parses a simple expression, negated by a leading NOT or '-'.
func (p *aipParser) term() (node, error) {
	p.skipSpace()
	switch {
	case p.acceptKeyword("NOT"):
		if err := p.requireOperand("NOT"); err != nil {
			return nil, err
		}
	case p.pos < len(p.src) && p.src[p.pos] == '-':
		if p.pos+1 == len(p.src) || isSpace(p.src[p.pos+1]) || p.src[p.pos+1] == ')' {
			return nil, fmt.Errorf("the '-' at position %d must be followed directly by the expression it negates", p.pos+1)
		}
		p.pos++
	default:
		return p.simple()
	}
	operand, err := p.simple()
	if err != nil {
		return nil, err
	}
	return negation{operand}, nil
}

// simple parses a parenthesised expression or a restriction.
func (p *aipParser) simple() (node, error) {
	if p.pos == len(p.src) || p.src[p.pos] != '(' {
		return p.restriction()
	}
	open := p.pos
	if p.depth++; p.depth > maxDepth {
		return nil, fmt.Errorf("parentheses are nested more than %d deep", maxDepth)
	}
	p.pos++
	if p.skipSpace(); p.pos < len(p.src) && p.src[p.pos] == ')' {
		return nil, fmt.Errorf("the parentheses at position %d are empty", open+1)
	}
	n, err := p.expression()
	if err != nil {
		return nil, err
	}
	if p.skipSpace(); p.pos == len(p.src) {
		return nil, fmt.Errorf("the '(' at position %d is never closed", open+1)
	}
	p.pos++ // expression stops only at the end or at a ')'.
	p.depth--
	return n, nil
}

// restriction parses `field comparator value`.
func (p *aipParser) restriction() (node, error) {
	start := p.pos
	for p.pos < len(p.src) && !isSpace(p.src[p.pos]) && strings.IndexByte(`()=<>!:"'`, p.src[p.pos]) < 0 {
		p.pos++
	}
	field := p.src[start:p.pos]
	switch field {
	case "":
		return nil, fmt.Errorf("expected a field name at position %d, found %s", start+1, p.found())
	case "AND", "OR":
		return nil, fmt.Errorf("%s at position %d must stand between two expressions", field, start+1)
	case "NOT":
		return nil, fmt.Errorf("NOT at position %d must be followed by a comparison or a parenthesised expression", start+1)
	}
	path, err := parseFieldPath(field)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	op, ok := p.comparator()
	if !ok {
		return nil, p.missingComparator(field)
	}
	p.skipSpace()
	text, err := p.value(op)
	if err != nil {
		return nil, err
	}
	value, err := newLiteral(text, op)
	if err != nil {
		return nil, err
	}
	if op == opNotEquals {
		return negation{&restriction{path: path, op: opEquals, value: value}}, nil
	}
	return &restriction{path: path, op: op, value: value}, nil
}

func (p *aipParser) missingComparator(field string) error {
	word := p.src[p.pos:wordEnd(p.src, p.pos)]
	switch word {
	case "eq", "ne":
		return fmt.Errorf("the value after %s for the field %s is missing", word, quoteInput(field))
	}
	if lower := strings.ToLower(field); lower == "and" || lower == "or" || lower == "not" {
		return fmt.Errorf("expected a comparison operator after %s at position %d; AND, OR and NOT must be written in capitals", quoteInput(field), p.pos+1)
	}
	return fmt.Errorf("expected a comparison operator (=, !=, <, <=, >, >=, :) after the field %s at position %d, found %s", quoteInput(field), p.pos+1, p.found())
}

// comparator consumes a comparison operator.
func (p *aipParser) comparator() (comparator, bool) {
	rest := p.src[p.pos:]
	for _, op := range []comparator{opLessEquals, opGreaterEquals, opNotEquals, opEquals, opLess, opGreater, opHas} {
		if strings.HasPrefix(rest, string(op)) {
			p.pos += len(op)
			return op, true
		}
	}
	return "", false
}

// value parses the value of a restriction: a quoted string, or a bare word
// running to the next space or parenthesis.
func (p *aipParser) value(op comparator) (string, error) {
	if p.pos == len(p.src) || p.src[p.pos] == ')' {
		return "", fmt.Errorf("the value after %s at position %d is missing", op, p.pos+1)
	}
	switch p.src[p.pos] {
	case '"', '\'':
		return p.quoted()
	case '(':
		return "", fmt.Errorf("a parenthesised value at position %d is not supported; compare the field with each value and join them with OR", p.pos+1)
	case '=':
		return "", fmt.Errorf("unexpected '=' at position %d; equality is written with a single '='", p.pos+1)
	}
	start := p.pos
	p.pos = wordEnd(p.src, p.pos)
	word := p.src[start:p.pos]
	if word == "AND" || word == "OR" || word == "NOT" {
		return "", fmt.Errorf("the value after %s at position %d is missing (to compare with the word %s, quote it)", op, start+1, word)
	}
	return word, nil
}

// quoted parses a string in single or double quotes. A backslash escapes a
// quote or a backslash; any other backslash is kept as written.
func (p *aipParser) quoted() (string, error) {
	open, quote := p.pos, p.src[p.pos]
	var b strings.Builder
	for i := open + 1; i < len(p.src); i++ {
		switch c := p.src[i]; {
		case c == '\\' && i+1 < len(p.src):
			if next := p.src[i+1]; next != '"' && next != '\'' && next != '\\' {
				b.WriteByte(c)
			}
			b.WriteByte(p.src[i+1])
			i++
		case c == quote:
			p.pos = i + 1
			if p.pos < len(p.src) && !isSpace(p.src[p.pos]) && p.src[p.pos] != '(' && p.src[p.pos] != ')' {
				return "", fmt.Errorf("unexpected %s right after the quoted value at position %d", p.found(), open+1)
			}
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("the quoted value starting at position %d is not terminated", open+1)
}

// requireOperand checks that a keyword just consumed is followed by
// something for it to apply to.
func (p *aipParser) requireOperand(keyword string) error {
	if p.skipSpace(); p.pos == len(p.src) || p.src[p.pos] == ')' {
		return fmt.Errorf("%s at the end of an expression must be followed by a comparison or a parenthesised expression", keyword)
	}
	return nil
}

// acceptKeyword consumes the keyword (AND, OR or NOT) if it comes next,
// after any spaces. Keywords are case-sensitive and must be followed by a
// space, a parenthesis or the end.
func (p *aipParser) acceptKeyword(keyword string) bool {
	if !p.peekKeyword(keyword) {
		return false
	}
	p.skipSpace()
	p.pos += len(keyword)
	return true
}

func (p *aipParser) peekKeyword(keyword string) bool {
	i := p.pos
	for i < len(p.src) && isSpace(p.src[i]) {
		i++
	}
	if !strings.HasPrefix(p.src[i:], keyword) {
		return false
	}
	end := i + len(keyword)
	return end == len(p.src) || isSpace(p.src[end]) || p.src[end] == '(' || p.src[end] == ')'
}

func (p *aipParser) skipSpace() {
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// found describes what is at the current position, for error messages.
func (p *aipParser) found() string {
	if p.pos == len(p.src) {
		return "the end of the filter"
	}
	return quoteInput(p.src[p.pos:wordEnd(p.src, p.pos)])
}

// flatten returns the only part of a conjunction, or the conjunction.
func flatten(parts conjunction) node {
	if len(parts) == 1 {
		return parts[0]
	}
	return parts
}
