// Command gen-discovery trims the compute v1 discovery document shipped with
// google.golang.org/api/compute/v1 down to what fake-gce needs to route requests
// and check request bodies: every method's HTTP verb, path and parameters, and
// every schema's property types, formats and enums. Descriptions are dropped.
//
// Usage: go run ./hack/gen-discovery -out test/fakegce/discovery.json.gz
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

type property struct {
	Type                 string               `json:"type,omitempty"`
	Format               string               `json:"format,omitempty"`
	Ref                  string               `json:"$ref,omitempty"`
	Items                *property            `json:"items,omitempty"`
	AdditionalProperties *property            `json:"additionalProperties,omitempty"`
	Properties           map[string]*property `json:"properties,omitempty"`
	Enum                 []string             `json:"enum,omitempty"`
	ReadOnly             bool                 `json:"readOnly,omitempty"`
	Location             string               `json:"location,omitempty"`
	Required             bool                 `json:"required,omitempty"`
	Repeated             bool                 `json:"repeated,omitempty"`
}

type method struct {
	ID             string               `json:"id"`
	HTTPMethod     string               `json:"httpMethod"`
	Path           string               `json:"path"`
	Parameters     map[string]*property `json:"parameters,omitempty"`
	ParameterOrder []string             `json:"parameterOrder,omitempty"`
	Request        *property            `json:"request,omitempty"`
	Response       *property            `json:"response,omitempty"`
}

type resource struct {
	Methods map[string]*method `json:"methods"`
}

type document struct {
	Revision  string               `json:"revision"`
	Resources map[string]*resource `json:"resources"`
	Schemas   map[string]*property `json:"schemas"`
}

func main() {
	out := flag.String("out", "test/fakegce/discovery.json.gz", "where to write the trimmed, gzipped document")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen-discovery:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "google.golang.org/api").Output()
	if err != nil {
		return fmt.Errorf("locate google.golang.org/api: %w", err)
	}
	src := filepath.Join(strings.TrimSpace(string(dir)), "compute", "v1", "compute-api.json")
	raw, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var doc document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("decode %s: %w", src, err)
	}
	trimmed, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(trimmed)
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
