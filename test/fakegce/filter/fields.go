package filter

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// fieldPath is a dotted field reference such as `labels.env` or
// `networkInterfaces.networkIP`, split into its keys.
type fieldPath []string

// parseFieldPath checks a dotted field reference. Keys are camelCase field
// names or label keys, which may also hold digits, `_` and `-`.
func parseFieldPath(s string) (fieldPath, error) {
	if s == "" {
		return nil, fmt.Errorf("a field name is missing")
	}
	path := fieldPath(strings.Split(s, "."))
	for _, key := range path {
		if key == "" {
			return nil, fmt.Errorf("the field name %s has an empty part between dots", quoteInput(s))
		}
		if key[0] == '-' {
			return nil, fmt.Errorf("the field name %s has a part starting with '-'", quoteInput(s))
		}
		for i := 0; i < len(key); i++ {
			if !isFieldByte(key[i]) {
				return nil, fmt.Errorf("the field name %s contains %q; field names are letters, digits, '_', '-' and '.'", quoteInput(s), key[i])
			}
		}
	}
	return path, nil
}

func isFieldByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// valueTest is a condition on one value reached by a fieldPath.
type valueTest interface {
	test(value any) bool
}

// anyValue reports whether t holds for any value found at path in v.
// Arrays met on the way or at the end are traversed element by element,
// because compute lets a dotted path reach into repeated fields
// (`tags.items`, `networkInterfaces.networkIP`). Missing keys and JSON nulls
// yield no value, so a missing field never satisfies t.
func anyValue(v any, path fieldPath, t valueTest) bool {
	switch v := v.(type) {
	case nil:
		return false
	case []any:
		for _, element := range v {
			if anyValue(element, path, t) {
				return true
			}
		}
		return false
	}
	if len(path) == 0 {
		return t.test(v)
	}
	object, ok := v.(map[string]any)
	if !ok {
		return false
	}
	return anyValue(object[path[0]], path[1:], t)
}

// scalarText returns the JSON text of a scalar value: the string itself,
// the digits of a number, or true/false. Objects have no scalar text.
func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	case bool:
		return strconv.FormatBool(v), true
	case float64: // resources decoded without UseNumber
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}
