package fakegce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// SetWaitLimit shortens how long operations.wait blocks, for a test that
// checks that wait gives up; it returns a function that restores the limit.
// Tests that call it must not run in parallel with others.
func SetWaitLimit(d time.Duration) (restore func()) {
	old := waitLimit
	waitLimit = d
	return func() { waitLimit = old }
}

// WireTypeErrors checks every stored resource and operation, as the API
// renders it, against the discovery schema of its kind: int64 and uint64
// fields must be JSON strings, other integers numbers, and every field must
// exist in the schema. It returns one line per mismatch.
func WireTypeErrors(s *Server) []string {
	var out []string
	for key, raw := range s.State() {
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			out = append(out, key+": "+err.Error())
			continue
		}
		kindName := strings.TrimPrefix(str(obj, "kind"), "compute#")
		schema := strings.ToUpper(kindName[:1]) + kindName[1:]
		out = append(out, SchemaErrors(schema, raw, key)...)
	}
	sort.Strings(out)
	return out
}

// SchemaErrors checks one JSON answer against a discovery schema, as
// WireTypeErrors does; at names the answer in the lines it returns.
func SchemaErrors(schema string, raw []byte, at string) []string {
	rt, err := loadRouter()
	if err != nil {
		return []string{err.Error()}
	}
	if rt.schema(schema) == nil {
		return []string{at + ": no schema " + schema}
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []string{at + ": " + err.Error()}
	}
	out := wireTypeErrors(rt, rt.schema(schema), v, at)
	sort.Strings(out)
	return out
}

func wireTypeErrors(rt *router, p *schemaProp, v any, at string) []string {
	if p.Ref != "" {
		return wireTypeErrors(rt, rt.schema(p.Ref), v, at)
	}
	bad := func(want string) []string { return []string{fmt.Sprintf("%s: %s is not %s", at, jsonText(v), want)} }
	switch p.Type {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return bad("an object")
		}
		var out []string
		for k, e := range obj {
			fp := p.Properties[k]
			if fp == nil {
				fp = p.AdditionalProperties
			}
			if fp == nil {
				out = append(out, fmt.Sprintf("%s.%s: the schema has no such field", at, k))
				continue
			}
			out = append(out, wireTypeErrors(rt, fp, e, at+"."+k)...)
		}
		return out
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return bad("a list")
		}
		var out []string
		for i, e := range arr {
			out = append(out, wireTypeErrors(rt, p.Items, e, fmt.Sprintf("%s[%d]", at, i))...)
		}
		return out
	case "boolean":
		if _, ok := v.(bool); !ok {
			return bad("a boolean")
		}
	case "integer", "number":
		if _, ok := v.(json.Number); !ok {
			return bad("a JSON number")
		}
	case "string":
		if _, ok := v.(string); !ok {
			return bad("a JSON string (format " + p.Format + ")")
		}
	}
	return nil
}

// SetGenerationWaitLimit shortens how long GET /admin/v1/generation waits for
// a change; it returns a function that restores the limit. Tests that call it
// must not run in parallel with others.
func SetGenerationWaitLimit(d time.Duration) (restore func()) {
	old := generationWaitLimit
	generationWaitLimit = d
	return func() { generationWaitLimit = old }
}

// NewIDs returns the first n resource ids a fresh store with seed hands out.
func NewIDs(seed uint64, n int) []string {
	s := newStore(seed)
	out := make([]string, n)
	for i := range out {
		out[i] = s.nextID()
	}
	return out
}
