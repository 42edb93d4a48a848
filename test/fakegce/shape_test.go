package fakegce_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Comparing an answer of fake-gce with a recorded answer of the real API by
// shape: every recorded field must be in the fake's answer with the same JSON
// type, and the fake's answer must hold no field the recording lacks (the
// API leaves out what the client did not send and has no value). Values
// (ids, timestamps, fingerprints, addresses) differ by nature.

// realOnlyFields are the recorded fields fake-gce leaves out on purpose,
// by the kind of the object that holds them: facts about Google's own
// infrastructure, and fields of the beta API (the recorder's Terraform-based
// controllers called /compute/beta/, which the nested links in the recordings
// still show) that the v1 discovery document fake-gce serves does not have.
var realOnlyFields = []struct{ kind, field, reason string }{
	{"compute#instance", "satisfiesPzi", "physical zone isolation is a property of Google's data centres"},
	{"compute#disk", "satisfiesPzi", "physical zone isolation is a property of Google's data centres"},
	{"compute#instance", "resourceStatus", "runtime status of the VM on its host (effective DNS metadata, maintenance), nothing a fake VM has"},
	{"compute#backendService", "iap", "Identity-Aware Proxy is not modelled"},
	{"compute#image", "rolloutOverride", "Google's zone-by-zone rollout of a public image; not in the v1 discovery document"},
	{"compute#instance", "shieldedVmConfig", "beta-only alias of shieldedInstanceConfig; not in the v1 discovery document"},
	{"compute#instance", "shieldedVmIntegrityPolicy", "beta-only alias of shieldedInstanceIntegrityPolicy; not in the v1 discovery document"},
	{"compute#disk", "locked", "beta-only field; not in the v1 discovery document"},
	{"compute#disk", "multiWriter", "beta-only field; not in the v1 discovery document"},
}

// fakeOnlyFields are fields fake-gce answers that a recording lacks, by the
// kind of the object that holds them, and why that is right.
var fakeOnlyFields = []struct{ kind, field, reason string }{
	{"compute#address", "labels", "labels sent on insert; the recorded insert (beta, through Config Connector) dropped them until setLabels, which v1 clients such as terraform 7.45 do not rely on"},
	{"compute#forwardingRule", "labels", "labels sent on insert, as for compute#address"},
	{"compute#subnetwork", "state", "recorded with and without it (computeroute has state READY, computesubnetwork none)"},
}

// shapeDiffs lists where got lacks a field of want, holds it with another
// JSON type, or holds a field want lacks. Arrays compare element by element
// (against got's first element when got is shorter). realOnlyFields and
// fakeOnlyFields are not compared.
func shapeDiffs(want, got any) []string {
	return uniqueLines(shapeDiffsAt(shapeAt{kind: kindOf(want)}, want, got))
}

// shapeAt is a place in an answer: its full path, and its path inside the
// nearest enclosing object that has a "kind" (what realOnlyFields names).
type shapeAt struct{ kind, rel, full string }

func (a shapeAt) field(k string) shapeAt {
	return shapeAt{kind: a.kind, rel: fieldPath(a.rel, k), full: fieldPath(a.full, k)}
}

func (a shapeAt) elem() shapeAt { return shapeAt{kind: a.kind, rel: a.rel + "[]", full: a.full + "[]"} }

func shapeDiffsAt(at shapeAt, want, got any) []string {
	if want == nil {
		return nil
	}
	if jsonType(want) != jsonType(got) {
		return []string{fmt.Sprintf("%s: %s, recorded %s", orRoot(at.full), jsonType(got), jsonType(want))}
	}
	var out []string
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		if k := kindOf(w); k != "" {
			at.kind, at.rel = k, ""
		}
		for _, k := range keysOf(w) {
			f := at.field(k)
			if realOnly(f.kind, f.rel) {
				continue
			}
			gv, ok := g[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s: missing in %s (recorded %s)", f.full, orAnswer(f.kind), clip(jsonText(w[k]))))
				continue
			}
			out = append(out, shapeDiffsAt(f, w[k], gv)...)
		}
		for _, k := range keysOf(g) {
			f := at.field(k)
			if _, recorded := w[k]; recorded || fakeOnly(f.kind, f.rel) {
				continue
			}
			out = append(out, fmt.Sprintf("%s: not recorded in %s, the fake answered %s", f.full, orAnswer(f.kind), clip(jsonText(g[k]))))
		}
	case []any:
		g := got.([]any)
		if len(w) > 0 && len(g) == 0 {
			return []string{fmt.Sprintf("%s: empty, recorded %d elements", orRoot(at.full), len(w))}
		}
		for i, we := range w {
			ge := g[0]
			if i < len(g) {
				ge = g[i]
			}
			out = append(out, shapeDiffsAt(at.elem(), we, ge)...)
		}
	}
	return out
}

func fakeOnly(kind, field string) bool {
	for _, f := range fakeOnlyFields {
		if f.kind == kind && field == f.field {
			return true
		}
	}
	return false
}

func realOnly(kind, field string) bool {
	for _, f := range realOnlyFields {
		if f.kind == kind && (field == f.field || strings.HasPrefix(field, f.field+".") || strings.HasPrefix(field, f.field+"[]")) {
			return true
		}
	}
	return false
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "bool"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// decodeJSON decodes an answer or a body, numbers as json.Number; empty text is nil.
func decodeJSON(text []byte) (any, error) {
	if len(bytes.TrimSpace(text)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func kindOf(v any) string { return stringField(v, "kind") }

// stringField is v[k] when v is an object and v[k] a string.
func stringField(v any, k string) string {
	o, _ := v.(map[string]any)
	s, _ := o[k].(string)
	return s
}

func fieldPath(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

func orRoot(at string) string {
	if at == "" {
		return "(root)"
	}
	return at
}

func orAnswer(kind string) string {
	if kind == "" {
		return "the answer"
	}
	return kind
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// clip shortens text for a failure message.
func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

func keysOf(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func uniqueLines(l []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func TestShapeDiffsNamesMissingFieldsAndWrongTypes(t *testing.T) {
	tests := []struct {
		name      string
		want, got string
		diffs     []string
	}{
		{name: "values may differ when shapes agree",
			want: `{"kind":"compute#address","id":"1","address":"8.8.8.8","users":["a","b"]}`,
			got:  `{"kind":"compute#address","id":"2","address":"203.0.113.1","users":["c"]}`},
		{name: "a field the recording lacks is named with its path",
			want:  `{"kind":"compute#address","address":"8.8.8.8"}`,
			got:   `{"kind":"compute#address","address":"203.0.113.1","ipVersion":"IPV4"}`,
			diffs: []string{`ipVersion: not recorded in compute#address, the fake answered "IPV4"`}},
		{name: "a missing field is named with its path",
			want:  `{"kind":"compute#instance","tags":{"fingerprint":"x"},"disks":[{"kind":"compute#attachedDisk","index":0}]}`,
			got:   `{"kind":"compute#instance","tags":{},"disks":[{"kind":"compute#attachedDisk"}]}`,
			diffs: []string{`disks[].index: missing in compute#attachedDisk (recorded 0)`, `tags.fingerprint: missing in compute#instance (recorded "x")`}},
		{name: "a number is not a string",
			want:  `{"progress":0}`,
			got:   `{"progress":"0"}`,
			diffs: []string{"progress: string, recorded number"}},
		{name: "an empty list does not stand for a recorded one",
			want:  `{"items":[{"a":1}]}`,
			got:   `{"items":[]}`,
			diffs: []string{"items: empty, recorded 1 elements"}},
		{name: "real-only fields are not compared",
			want: `{"kind":"compute#instance","satisfiesPzi":true}`,
			got:  `{"kind":"compute#instance"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, _ := decodeJSON([]byte(tt.want))
			got, _ := decodeJSON([]byte(tt.got))
			if diff := cmp.Diff(tt.diffs, shapeDiffs(want, got)); diff != "" {
				t.Errorf("shapeDiffs (-want +got):\n%s", diff)
			}
		})
	}
}
