package filter

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
)

// regexpTerm is one `field eq literal` term of the regular-expression
// dialect. (`ne` is parsed as the negation of an `eq` term.)
type regexpTerm struct {
	path fieldPath
	// re is the literal anchored at both ends: compute requires the literal
	// to match the entire field value.
	re *regexp.Regexp
}

func (r *regexpTerm) match(resource map[string]any) bool {
	return anyValue(resource, r.path, r)
}

func (r *regexpTerm) test(value any) bool {
	text, ok := scalarText(value)
	return ok && r.re.MatchString(text)
}

// parseRegexpDialect parses either one unparenthesised term, whose unquoted
// literal runs to the end of the expression, or a sequence of parenthesised
// terms, which are ANDed. The discovery document allows nothing else: no AND,
// OR or NOT, and no nesting.
func parseRegexpDialect(expr string) (node, error) {
	expr = strings.TrimSpace(expr)
	if expr[0] != '(' {
		return parseRegexpTerm(expr, 0, false)
	}
	var terms conjunction
	for pos := 0; ; {
		for pos < len(expr) && isSpace(expr[pos]) {
			pos++
		}
		if pos == len(expr) {
			break
		}
		if expr[pos] != '(' {
			word := expr[pos:wordEnd(expr, pos)]
			if word == "AND" || word == "OR" || word == "NOT" || expr[pos] == '-' {
				return nil, errMixedDialects(fmt.Sprintf("found %s at position %d; parenthesised eq/ne terms are always ANDed", quoteInput(word), pos+1))
			}
			return nil, fmt.Errorf("expected '(' to start the next eq/ne term at position %d, found %s", pos+1, quoteInput(word))
		}
		end, err := closingParen(expr, pos)
		if err != nil {
			return nil, err
		}
		term, err := parseRegexpTerm(expr[pos+1:end], pos+1, true)
		if err != nil {
			return nil, err
		}
		terms = append(terms, term)
		pos = end + 1
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

// closingParen returns the index of the ')' that closes the '(' at open.
// An unquoted regular expression may contain balanced or escaped
// parentheses of its own, as in `(name eq (a|b)-\(x)`.
func closingParen(expr string, open int) (int, error) {
	depth := 0
	var quote byte
	for i := open + 1; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case (c == '"' || c == '\'') && opensToken(expr[i-1]):
			quote = c
		case c == '(':
			depth++
		case c == ')' && depth == 0:
			return i, nil
		case c == ')':
			depth--
		}
	}
	return 0, fmt.Errorf("the '(' at position %d is never closed", open+1)
}

// parseRegexpTerm parses `field eq literal` or `field ne literal`. offset is
// the term's position in the whole expression, for error messages.
func parseRegexpTerm(term string, offset int, parenthesised bool) (node, error) {
	pos := 0
	skip := func() {
		for pos < len(term) && isSpace(term[pos]) {
			pos++
		}
	}
	skip()
	if pos < len(term) && (term[pos] == '(' || term[pos] == '-') {
		return nil, errMixedDialects(fmt.Sprintf("found %q at position %d; eq/ne terms cannot be nested or negated", term[pos], offset+pos+1))
	}
	start := pos
	for pos < len(term) && (isFieldByte(term[pos]) || term[pos] == '.') {
		pos++
	}
	field := term[start:pos]
	if field == "" {
		return nil, fmt.Errorf("expected a field name at position %d", offset+pos+1)
	}
	if field == "NOT" || field == "AND" || field == "OR" {
		return nil, errMixedDialects(fmt.Sprintf("found %s at position %d", field, offset+start+1))
	}
	path, err := parseFieldPath(field)
	if err != nil {
		return nil, err
	}
	skip()
	opStart := pos
	for pos < len(term) && !isSpace(term[pos]) {
		pos++
	}
	op := term[opStart:pos]
	switch {
	case op == "eq" || op == "ne":
	case op == "":
		return nil, fmt.Errorf("expected eq or ne after the field %s", quoteInput(field))
	case strings.ContainsAny(op[:1], "=<>!:"):
		return nil, errMixedDialects(fmt.Sprintf("found %s after the field %s", quoteInput(op), quoteInput(field)))
	default:
		return nil, fmt.Errorf("expected eq or ne after the field %s, found %s", quoteInput(field), quoteInput(op))
	}
	skip()
	literal, err := regexpLiteral(term[pos:], field, parenthesised)
	if err != nil {
		return nil, err
	}
	re, err := compileAnchored(literal)
	if err != nil {
		return nil, fmt.Errorf("the value %s for the field %s is not a valid RE2 regular expression: %w", quoteInput(literal), quoteInput(field), err)
	}
	var n node = &regexpTerm{path: path, re: re}
	if op == "ne" {
		n = negation{n}
	}
	return n, nil
}

// regexpLiteral returns the literal of a term: the text between matching
// quotes, where a backslash before the quote character stands for the quote
// and any other backslash is kept for the regular expression, or else the
// unquoted rest of the term.
func regexpLiteral(s, field string, parenthesised bool) (string, error) {
	if s == "" {
		return "", fmt.Errorf("the value after eq or ne for the field %s is missing", quoteInput(field))
	}
	quote := s[0]
	if quote != '"' && quote != '\'' {
		literal := strings.TrimSpace(s)
		if !parenthesised {
			if err := checkUnparenthesisedLiteral(literal); err != nil {
				return "", err
			}
		}
		return literal, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && s[i+1] == quote:
			b.WriteByte(quote)
			i++
		case c == '\\' && i+1 < len(s):
			b.WriteString(s[i : i+2])
			i++
		case c == quote:
			if rest := strings.TrimSpace(s[i+1:]); rest != "" {
				return "", fmt.Errorf("unexpected %s after the quoted value for the field %s", quoteInput(rest), quoteInput(field))
			}
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("the quoted value for the field %s is not terminated", quoteInput(field))
}

// checkUnparenthesisedLiteral rejects an unquoted literal that is really the
// rest of a compound expression: `name eq a AND zone = b` mixes the dialects,
// and `name eq a (zone eq b)` forgot to parenthesise its first term.
func checkUnparenthesisedLiteral(literal string) error {
	for _, word := range strings.Fields(literal) {
		switch word {
		case "AND", "OR", "NOT", "=", "!=", "<", "<=", ">", ">=", ":":
			return errMixedDialects(fmt.Sprintf("found %s in the value of an eq/ne term", word))
		}
	}
	if usesRegexpDialect(" " + literal) {
		return errors.New("several eq/ne terms must each be parenthesised, as in (name eq a) (zone eq b)")
	}
	return nil
}

// compileAnchored compiles an RE2 expression that must match a whole value.
// The literal is checked on its own first, so that a literal such as `a)|(b`
// cannot escape the anchoring group.
func compileAnchored(literal string) (*regexp.Regexp, error) {
	if _, err := syntax.Parse(literal, syntax.Perl); err != nil {
		var syntaxErr *syntax.Error
		if errors.As(err, &syntaxErr) {
			return nil, fmt.Errorf("%s: %s", syntaxErr.Code, quoteInput(syntaxErr.Expr))
		}
		return nil, err
	}
	return regexp.Compile(`^(?:` + literal + `)$`)
}

// wordEnd returns the end of the bare word starting at pos.
func wordEnd(s string, pos int) int {
	end := pos
	for end < len(s) && !isSpace(s[end]) && s[end] != '(' && s[end] != ')' {
		end++
	}
	if end == pos && end < len(s) {
		end++
	}
	return end
}
