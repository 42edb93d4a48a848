package filter

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// comparator is an AIP-160 comparison operator.
type comparator string

const (
	opEquals        comparator = "="
	opNotEquals     comparator = "!="
	opLess          comparator = "<"
	opLessEquals    comparator = "<="
	opGreater       comparator = ">"
	opGreaterEquals comparator = ">="
	opHas           comparator = ":"
)

// restriction is one AIP-160 `field comparator value`. `!=` is parsed as the
// negation of `=`, so a restriction never holds `!=`.
type restriction struct {
	path  fieldPath
	op    comparator
	value literal
}

func (r *restriction) match(resource map[string]any) bool {
	return anyValue(resource, r.path, r)
}

func (r *restriction) test(value any) bool {
	switch r.op {
	case opHas:
		// `labels.owner:*` asks whether the key is present; `labels:owner`
		// asks whether the map has the key; on anything else `:` is `=`
		// (google.aip.dev/160, "Has Operator").
		if r.value.text == "*" {
			return true
		}
		if object, ok := value.(map[string]any); ok {
			_, found := object[r.value.text]
			return found
		}
		return r.value.equals(value)
	case opEquals:
		return r.value.equals(value)
	}
	text, ok := scalarText(value)
	if !ok {
		return false
	}
	order := r.value.orderOf(text)
	switch r.op {
	case opLess:
		return order < 0
	case opLessEquals:
		return order <= 0
	case opGreater:
		return order > 0
	case opGreaterEquals:
		return order >= 0
	}
	return false
}

// literal is the value on the right of an AIP-160 restriction.
type literal struct {
	text string
	// number is set when text is a decimal number, so that it compares
	// numerically with values that are numbers too.
	number bool
	// wildcard is text with each `*` matching any run of characters,
	// anchored; nil when text has no `*` or the operator takes none.
	wildcard *regexp.Regexp
}

func newLiteral(text string, op comparator) (literal, error) {
	l := literal{text: text}
	l.number, _ = decimalNumber(text)
	if (op == opEquals || op == opNotEquals || op == opHas) && strings.Contains(text, "*") {
		re, err := regexp.Compile(wildcardPattern(text))
		if err != nil {
			return literal{}, fmt.Errorf("the wildcard value %s is too complex: %w", quoteInput(text), err)
		}
		l.wildcard = re
	}
	return l, nil
}

// wildcardPattern turns `k8s-*` into the RE2 expression `^(?s:k8s-.*)$`.
// Runs of `*` collapse into one, which keeps the expression small.
func wildcardPattern(text string) string {
	for strings.Contains(text, "**") {
		text = strings.ReplaceAll(text, "**", "*")
	}
	parts := strings.Split(text, "*")
	for i, part := range parts {
		parts[i] = regexp.QuoteMeta(part)
	}
	return `^(?s:` + strings.Join(parts, ".*") + `)$`
}

// equals reports whether a value reached by a field path equals the literal.
func (l literal) equals(value any) bool {
	text, ok := scalarText(value)
	switch {
	case !ok:
		return false
	case l.wildcard != nil:
		return l.wildcard.MatchString(text)
	case text == l.text:
		return true
	}
	return l.number && l.orderOf(text) == 0
}

// orderOf compares text with the literal: numerically when both are decimal
// numbers (compute sends int64 fields as JSON strings such as "1234"),
// otherwise as strings, which orders RFC 3339 timestamps correctly.
func (l literal) orderOf(text string) int {
	if !l.number {
		return strings.Compare(text, l.text)
	}
	number, integer := decimalNumber(text)
	if !number {
		return strings.Compare(text, l.text)
	}
	if _, literalInteger := decimalNumber(l.text); integer && literalInteger {
		return compareIntegers(text, l.text)
	}
	// Values out of float64 range parse as ±Inf, which still orders them.
	x, _ := strconv.ParseFloat(text, 64)
	y, _ := strconv.ParseFloat(l.text, 64)
	return cmp.Compare(x, y)
}

// decimalNumber reports whether s is a decimal number as JSON writes one (an
// optional minus, digits, an optional fraction and exponent), and whether
// it is an integer.
func decimalNumber(s string) (number, integer bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i - start
	}
	if digits() == 0 {
		return false, false
	}
	integer = true
	if i < len(s) && s[i] == '.' {
		i++
		integer = false
		if digits() == 0 {
			return false, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		integer = false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false, false
		}
	}
	return i == len(s), integer && i == len(s)
}

// compareIntegers compares two decimal integers of any length exactly, which
// float64 cannot do for uint64 resource IDs.
func compareIntegers(a, b string) int {
	negativeA, magnitudeA := splitSign(a)
	negativeB, magnitudeB := splitSign(b)
	if negativeA != negativeB {
		if negativeA {
			return -1
		}
		return 1
	}
	order := cmp.Compare(len(magnitudeA), len(magnitudeB))
	if order == 0 {
		order = strings.Compare(magnitudeA, magnitudeB)
	}
	if negativeA {
		return -order
	}
	return order
}

// splitSign returns the sign and the digits without leading zeros of a
// decimal integer; zero is never negative.
func splitSign(s string) (negative bool, magnitude string) {
	magnitude = strings.TrimLeft(strings.TrimPrefix(s, "-"), "0")
	return strings.HasPrefix(s, "-") && magnitude != "", magnitude
}
