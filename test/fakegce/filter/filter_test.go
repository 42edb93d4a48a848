package filter

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEmptyFilterMatchesEverything(t *testing.T) {
	resource := decodeResource(t, instanceJSON)
	for _, expr := range []string{"", " ", "\t\n  "} {
		f, err := Parse(expr)
		if err != nil {
			t.Fatalf("Parse(%q) returned error: %v", expr, err)
		}
		if !f.Match(resource) || !f.Match(nil) {
			t.Errorf("Parse(%q) does not match everything", expr)
		}
	}
	var f *Filter
	if !f.Match(resource) {
		t.Errorf("a nil *Filter does not match everything")
	}
}

func TestFilterSelectsResources(t *testing.T) {
	resources := []map[string]any{
		decodeResource(t, instanceJSON),
		decodeResource(t, firewallJSON),
		decodeResource(t, `{"name": "example-instance", "labels": {"env": "dev"}}`),
	}
	tests := []struct {
		name   string
		filter string
		want   []string
	}{
		{name: "a regular expression selects by name", filter: `name eq k8s-.*`, want: []string{"k8s-node-1", "k8s-fw-a1b2c3"}},
		{name: "ne selects resources without the field", filter: `labels.env ne prod`, want: []string{"k8s-fw-a1b2c3", "example-instance"}},
		{name: "has-star selects resources with the label", filter: `labels.env:*`, want: []string{"k8s-node-1", "example-instance"}},
		{name: "OR of two names selects both", filter: `name = example-instance OR name = k8s-node-1`, want: []string{"k8s-node-1", "example-instance"}},
		{name: "an empty filter selects everything", filter: ``, want: []string{"k8s-node-1", "k8s-fw-a1b2c3", "example-instance"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.filter)
			if err != nil {
				t.Fatalf("Parse(%q) returned error: %v", tc.filter, err)
			}
			var got []string
			for _, resource := range resources {
				if f.Match(resource) {
					got = append(got, resource["name"].(string))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse(%q) selected the wrong resources (-want +got):\n%s", tc.filter, diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		filter  string
		wantErr string
	}{
		// Mixing the dialects.
		{
			name:    "an AIP comparison in a regular-expression term is a mixed dialect",
			filter:  `(name eq k8s-.*) (zone = us-central1-a)`,
			wantErr: `the regular-expression operators eq and ne cannot be mixed with AIP-160 operators in one filter (found "=" after the field "zone")`,
		},
		{
			name:    "an AIP comparison before a regular-expression term is a mixed dialect",
			filter:  `name = x AND zone eq y`,
			wantErr: `the regular-expression operators eq and ne cannot be mixed with AIP-160 operators in one filter (found "=" after the field "name")`,
		},
		{
			name:    "an AIP comparison without spaces is a mixed dialect",
			filter:  `(name=x) (zone eq y)`,
			wantErr: `the regular-expression operators eq and ne cannot be mixed with AIP-160 operators in one filter (found "=x" after the field "name")`,
		},
		{
			name:    "AND between regular-expression terms is a mixed dialect",
			filter:  `(name eq a) AND (zone eq b)`,
			wantErr: `the regular-expression operators eq and ne cannot be mixed with AIP-160 operators in one filter (found "AND" at position 13; parenthesised eq/ne terms are always ANDed)`,
		},
		{
			name:    "OR between regular-expression terms is a mixed dialect",
			filter:  `(name eq a) OR (zone eq b)`,
			wantErr: `the regular-expression operators eq and ne cannot be mixed with AIP-160 operators in one filter (found "OR" at position 13; parenthesised eq/ne terms are always ANDed)`,
		},
		{
			name:    "NOT before a regular-expression term is a mixed dialect",
			filter:  `NOT name eq a`,
			wantErr: `the regular-expression operators eq and ne cannot be mixed with AIP-160 operators in one filter (found NOT at position 1)`,
		},
		{
			name:    "minus before a regular-expression term is a mixed dialect",
			filter:  `-name eq a`,
			wantErr: `the regular-expression operators eq and ne cannot be mixed with AIP-160 operators in one filter (found '-' at position 1; eq/ne terms cannot be nested or negated)`,
		},
		{
			name:    "a nested regular-expression term is a mixed dialect",
			filter:  `((name eq a))`,
			wantErr: `the regular-expression operators eq and ne cannot be mixed with AIP-160 operators in one filter (found '(' at position 2; eq/ne terms cannot be nested or negated)`,
		},
		{
			name:    "AND after an unparenthesised regular-expression term is a mixed dialect",
			filter:  `name eq a AND zone = b`,
			wantErr: `the regular-expression operators eq and ne cannot be mixed with AIP-160 operators in one filter (found AND in the value of an eq/ne term)`,
		},
		// Regular-expression dialect.
		{
			name:    "an invalid regular expression is reported with its field",
			filter:  `name eq k8s-(`,
			wantErr: `the value "k8s-(" for the field "name" is not a valid RE2 regular expression: missing closing ): "k8s-("`,
		},
		{
			name:    "a second unparenthesised term asks for parentheses",
			filter:  `name eq a (zone eq b)`,
			wantErr: `several eq/ne terms must each be parenthesised, as in (name eq a) (zone eq b)`,
		},
		{
			name:    "a missing operator in a term is reported",
			filter:  `(name eq a) (zone)`,
			wantErr: `expected eq or ne after the field "zone"`,
		},
		{
			name:    "an unknown operator in a term is reported",
			filter:  `(name eq a) (zone like b)`,
			wantErr: `expected eq or ne after the field "zone", found "like"`,
		},
		{
			name:    "a missing literal in a term is reported",
			filter:  `(name eq a) (zone eq )`,
			wantErr: `the value after eq or ne for the field "zone" is missing`,
		},
		{
			name:    "an unclosed term is reported",
			filter:  `(name eq a) (zone eq b`,
			wantErr: `the '(' at position 13 is never closed`,
		},
		{
			name:    "text between terms is reported",
			filter:  `(name eq a) zone (zone eq b)`,
			wantErr: `expected '(' to start the next eq/ne term at position 13, found "zone"`,
		},
		{
			name:    "an unterminated quoted literal is reported",
			filter:  `name eq "k8s`,
			wantErr: `the quoted value for the field "name" is not terminated`,
		},
		{
			name:    "text after a quoted literal is reported",
			filter:  `name eq "k8s" x`,
			wantErr: `unexpected "x" after the quoted value for the field "name"`,
		},
		{
			name:    "a bad field name in a term is reported",
			filter:  `na$me eq x`,
			wantErr: `expected eq or ne after the field "na", found "$me"`,
		},
		{
			name:    "an empty field part in a term is reported",
			filter:  `labels..env eq x`,
			wantErr: `the field name "labels..env" has an empty part between dots`,
		},
		// AIP-160 dialect.
		{
			name:    "a missing comparator is reported",
			filter:  `name k8s`,
			wantErr: `expected a comparison operator (=, !=, <, <=, >, >=, :) after the field "name" at position 6, found "k8s"`,
		},
		{
			name:    "a bare word is not a restriction",
			filter:  `k8s-node`,
			wantErr: `expected a comparison operator (=, !=, <, <=, >, >=, :) after the field "k8s-node" at position 9, found the end of the filter`,
		},
		{
			name:    "eq without a value is reported as a missing value",
			filter:  `name eq`,
			wantErr: `the value after eq for the field "name" is missing`,
		},
		{
			name:    "a missing value is reported",
			filter:  `name =`,
			wantErr: `the value after = at position 7 is missing`,
		},
		{
			name:    "a double equals sign is reported",
			filter:  `name == x`,
			wantErr: `unexpected '=' at position 7; equality is written with a single '='`,
		},
		{
			name:    "a lone exclamation mark is not a comparator",
			filter:  `name ! x`,
			wantErr: `expected a comparison operator (=, !=, <, <=, >, >=, :) after the field "name" at position 6, found "!"`,
		},
		{
			name:    "a keyword in place of a value is reported",
			filter:  `name = AND`,
			wantErr: `the value after = at position 8 is missing (to compare with the word AND, quote it)`,
		},
		{
			name:    "a trailing AND is reported",
			filter:  `name = a AND`,
			wantErr: `AND at the end of an expression must be followed by a comparison or a parenthesised expression`,
		},
		{
			name:    "a trailing OR inside parentheses is reported",
			filter:  `(name = a OR)`,
			wantErr: `OR at the end of an expression must be followed by a comparison or a parenthesised expression`,
		},
		{
			name:    "a leading OR is reported",
			filter:  `OR name = a`,
			wantErr: `OR at position 1 must stand between two expressions`,
		},
		{
			name:    "a doubled AND is reported",
			filter:  `a = 1 AND AND b = 2`,
			wantErr: `AND at position 11 must stand between two expressions`,
		},
		{
			name:    "a doubled NOT is reported",
			filter:  `NOT NOT a = 1`,
			wantErr: `NOT at position 5 must be followed by a comparison or a parenthesised expression`,
		},
		{
			name:    "a minus followed by a space is reported",
			filter:  `- a = 1`,
			wantErr: `the '-' at position 1 must be followed directly by the expression it negates`,
		},
		{
			name:    "lower-case and is reported with a hint",
			filter:  `a = 1 and b = 2`,
			wantErr: `expected a comparison operator after "and" at position 11; AND, OR and NOT must be written in capitals`,
		},
		{
			name:    "an unclosed parenthesis is reported",
			filter:  `(a = 1 OR b = 2`,
			wantErr: `the '(' at position 1 is never closed`,
		},
		{
			name:    "an unmatched closing parenthesis is reported",
			filter:  `a = 1)`,
			wantErr: `unexpected ')' at position 6 without a matching '('`,
		},
		{
			name:    "empty parentheses are reported",
			filter:  `a = 1 ()`,
			wantErr: `the parentheses at position 7 are empty`,
		},
		{
			name:    "an unterminated quoted value is reported",
			filter:  `name = "k8s`,
			wantErr: `the quoted value starting at position 8 is not terminated`,
		},
		{
			name:    "text glued to a quoted value is reported",
			filter:  `name = "k8s"x`,
			wantErr: `unexpected "x" right after the quoted value at position 8`,
		},
		{
			name:    "a parenthesised value list is reported",
			filter:  `name = (a OR b)`,
			wantErr: `a parenthesised value at position 8 is not supported; compare the field with each value and join them with OR`,
		},
		{
			name:    "a quoted field name is reported",
			filter:  `"name" = a`,
			wantErr: `expected a field name at position 1, found "\"name\""`,
		},
		{
			name:    "a field part starting with a dash is reported",
			filter:  `labels.-x = a`,
			wantErr: `the field name "labels.-x" has a part starting with '-'`,
		},
		{
			name:    "a field with a stray character is reported",
			filter:  `na$me = a`,
			wantErr: `the field name "na$me" contains '$'; field names are letters, digits, '_', '-' and '.'`,
		},
		{
			name:    "a long value is cut short in the message",
			filter:  `name eq (` + strings.Repeat("a", 100),
			wantErr: `the value "(` + strings.Repeat("a", 63) + `"... for the field "name" is not a valid RE2 regular expression: missing closing ): "(` + strings.Repeat("a", 63) + `"...`,
		},
		// Limits.
		{
			name:    "an over-long filter is rejected",
			filter:  `name = "` + strings.Repeat("a", 4096) + `"`,
			wantErr: `the filter is 4105 bytes long; at most 4096 bytes are allowed`,
		},
		{
			name:    "over-deep nesting is rejected",
			filter:  strings.Repeat("(", 65) + "a = 1" + strings.Repeat(")", 65),
			wantErr: `parentheses are nested more than 64 deep`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.filter)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error %q", tc.filter, f, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantErr, err.Error()); diff != "" {
				t.Errorf("Parse(%q) error differs (-want +got):\n%s", tc.filter, diff)
			}
		})
	}
}

func TestParseAcceptsDeepButBoundedNesting(t *testing.T) {
	expr := strings.Repeat("(", 64) + "a = 1" + strings.Repeat(")", 64)
	f, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse of 64 nested parentheses returned error: %v", err)
	}
	if !f.Match(map[string]any{"a": "1"}) {
		t.Errorf("64 nested parentheses around a = 1 do not match a resource with a = 1")
	}
}
