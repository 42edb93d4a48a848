package fakegce

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
)

// Helpers for resources held as decoded JSON (map[string]any).

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

func copyObj(o map[string]any) map[string]any {
	if o == nil {
		return nil
	}
	return deepCopy(o).(map[string]any)
}

func str(o map[string]any, key string) string {
	s, _ := o[key].(string)
	return s
}

func boolField(o map[string]any, key string) bool {
	b, _ := o[key].(bool)
	return b
}

func objField(o map[string]any, key string) map[string]any {
	m, _ := o[key].(map[string]any)
	return m
}

func list(o map[string]any, key string) []any {
	l, _ := o[key].([]any)
	return l
}

func strList(o map[string]any, key string) []string {
	var out []string
	for _, e := range list(o, key) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func toAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func intField(o map[string]any, key string) (int64, bool) {
	switch n := o[key].(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	case float64:
		return int64(n), true
	case int:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

func num(i int64) json.Number { return json.Number(strconv.FormatInt(i, 10)) }

// setDefault sets key when the client left it out.
func setDefault(o map[string]any, key string, v any) {
	if _, ok := o[key]; !ok || o[key] == nil {
		o[key] = v
	}
}

// mergePatch applies an RFC 7396 JSON merge patch, the semantics the compute
// API documents for its PATCH methods: objects merge, null removes, anything
// else (lists included) replaces.
func mergePatch(dst map[string]any, patch map[string]any) map[string]any {
	out := copyObj(dst)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(out, k)
		case map[string]any:
			if cur, ok := out[k].(map[string]any); ok {
				out[k] = mergePatch(cur, pv)
			} else {
				out[k] = mergePatch(map[string]any{}, pv)
			}
		default:
			out[k] = deepCopy(v)
		}
	}
	return out
}

// fingerprintOf is the optimistic-locking token the API hands out for a value:
// base64 of a hash of its canonical JSON (encoding/json sorts map keys).
func fingerprintOf(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:8])
}

// resourceFingerprint hashes a whole resource except its fingerprints and
// output-only bookkeeping.
func resourceFingerprint(o map[string]any) string {
	c := make(map[string]any, len(o))
	for k, v := range o {
		if k == "fingerprint" || k == "labelFingerprint" || strings.HasPrefix(k, internalPrefix) {
			continue
		}
		c[k] = v
	}
	return fingerprintOf(c)
}

// labelsOf returns a resource's labels (never nil).
func labelsOf(o map[string]any) map[string]any {
	if l := objField(o, "labels"); l != nil {
		return l
	}
	return map[string]any{}
}
