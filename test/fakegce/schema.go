package fakegce

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// maxBodyBytes bounds a request body; the API's own limit is of this order.
const maxBodyBytes = 4 << 20

// decodeBody reads a JSON request body and checks it against the method's
// request schema from the discovery document: unknown fields, wrong types and
// values outside an enum are 400s, as the API answers them. int64 and uint64
// values are stored as JSON strings (their wire form), other numbers as numbers.
func (rt *router) decodeBody(r io.Reader, schema string) (map[string]any, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxBodyBytes+1))
	if err != nil {
		return nil, invalid("Could not read the request body: %v", err)
	}
	if len(raw) > maxBodyBytes {
		return nil, errorf(413, "requestTooLarge", "The request body is larger than %d bytes.", maxBodyBytes)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var body any
	if err := dec.Decode(&body); err != nil {
		return nil, invalid("Invalid JSON payload received. %v", err)
	}
	if dec.More() {
		return nil, invalid("Invalid JSON payload received. Unexpected data after the JSON object.")
	}
	obj, ok := body.(map[string]any)
	if !ok {
		return nil, invalid("Invalid JSON payload received. Expected an object at 'resource'.")
	}
	if schema == "" {
		return obj, nil
	}
	out, err := rt.conform(rt.schema(schema), obj, "resource")
	if err != nil {
		return nil, err
	}
	m, _ := out.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	if err := checkFieldLengths(m); err != nil {
		return nil, err
	}
	return m, nil
}

// conform checks v against p and returns it in canonical form. Nulls are kept:
// in a PATCH they clear a field (JSON merge patch).
func (rt *router) conform(p *schemaProp, v any, at string) (any, error) {
	if p == nil || v == nil {
		return v, nil
	}
	if p.Ref != "" {
		return rt.conform(rt.schema(p.Ref), v, at)
	}
	switch p.Type {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, invalid("Invalid value at '%s': expected an object, got %s.", at, jsonKind(v))
		}
		if p.Properties == nil && p.AdditionalProperties == nil {
			return obj, nil
		}
		out := make(map[string]any, len(obj))
		for _, k := range sortedKeys(obj) {
			fp := p.Properties[k]
			if fp == nil {
				fp = p.AdditionalProperties
			}
			if fp == nil {
				return nil, invalid("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", k, at)
			}
			cv, err := rt.conform(fp, obj[k], at+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = cv
		}
		return out, nil
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return nil, invalid("Invalid value at '%s': expected a list, got %s.", at, jsonKind(v))
		}
		out := make([]any, len(arr))
		for i, e := range arr {
			cv, err := rt.conform(p.Items, e, fmt.Sprintf("%s[%d]", at, i))
			if err != nil {
				return nil, err
			}
			out[i] = cv
		}
		return out, nil
	case "boolean":
		if _, ok := v.(bool); !ok {
			return nil, invalid("Invalid value at '%s' (TYPE_BOOL), %s", at, jsonText(v))
		}
		return v, nil
	case "integer", "number":
		n, err := numberValue(v, p.Format)
		if err != nil {
			return nil, invalid("Invalid value at '%s' (TYPE_%s), %s", at, strings.ToUpper(p.Format), jsonText(v))
		}
		return n, nil
	case "string":
		switch p.Format {
		case "int64", "uint64":
			n, err := numberValue(v, p.Format)
			if err != nil {
				return nil, invalid("Invalid value at '%s' (TYPE_%s), %s", at, strings.ToUpper(p.Format), jsonText(v))
			}
			return n.String(), nil
		}
		s, ok := v.(string)
		if !ok {
			return nil, invalid("Invalid value at '%s' (TYPE_STRING), %s", at, jsonText(v))
		}
		if len(p.Enum) > 0 && !contains(p.Enum, s) {
			return nil, invalid("Invalid value at '%s', %q: must be one of %s.", at, s, strings.Join(p.Enum, ", "))
		}
		return s, nil
	}
	return v, nil
}

// numberValue reads a JSON number, or a string holding one (proto3 JSON, which
// the API speaks, accepts both), as a value of the discovery format: int32,
// uint32, int64 and uint64 must be whole and in range; double and float must
// be finite. It returns the number's canonical JSON text, so that what is
// stored always renders as valid JSON ("00" and "NaN" are not JSON numbers).
func numberValue(v any, format string) (json.Number, error) {
	var s string
	switch n := v.(type) {
	case json.Number:
		s = n.String()
	case string:
		s = n
	default:
		return "", errNotANumber
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", errNotANumber
	}
	var lo, hi float64 // the range, for a whole number written as 1e3 or 5.0
	switch format {
	case "int32", "int64":
		bits := 32
		lo, hi = math.MinInt32, math.MaxInt32
		if format == "int64" {
			bits, lo, hi = 64, -(1 << 63), 1<<63-1024
		}
		if i, err := strconv.ParseInt(s, 10, bits); err == nil {
			return json.Number(strconv.FormatInt(i, 10)), nil
		}
		if f != math.Trunc(f) || f < lo || f > hi {
			return "", errNotANumber
		}
		return json.Number(strconv.FormatInt(int64(f), 10)), nil
	case "uint32", "uint64":
		bits := 32
		hi = math.MaxUint32
		if format == "uint64" {
			bits, hi = 64, 1<<64-2048
		}
		if u, err := strconv.ParseUint(s, 10, bits); err == nil {
			return json.Number(strconv.FormatUint(u, 10)), nil
		}
		if f != math.Trunc(f) || f < 0 || f > hi {
			return "", errNotANumber
		}
		return json.Number(strconv.FormatUint(uint64(f), 10)), nil
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
}

var errNotANumber = errors.New("not a number")

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	}
	return "null"
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
