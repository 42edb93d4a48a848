package fakegce_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// transcriptEntry is one request and its recorded answer from a
// k8s-config-connector _http.log (see fixtures/gcp-http-logs/FORMAT.md).
type transcriptEntry struct {
	Method string
	// Path is relative to the compute v1 root ("projects/p/global/networks/n"),
	// or absolute when the request went to another API.
	Path     string
	Query    string
	Body     string
	Status   int
	Response string
}

// computeRoot is where every recorded compute request went.
const computeRoot = "https://compute.googleapis.com/compute/v1/"

var statusLineRE = regexp.MustCompile(`^([1-5][0-9][0-9]) [A-Za-z]`)

// parseTranscript reads an _http.log: entries separated by a line "---";
// each is a request line, headers, a blank line, an optional JSON body, the
// status line, headers, a blank line and the response body.
func parseTranscript(text string) ([]transcriptEntry, error) {
	var out []transcriptEntry
	for i, chunk := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n---\n") {
		if strings.TrimSpace(chunk) == "" {
			continue
		}
		e, err := parseTranscriptEntry(chunk)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func parseTranscriptEntry(chunk string) (transcriptEntry, error) {
	lines := strings.Split(strings.Trim(chunk, "\n"), "\n")
	method, rawURL, ok := strings.Cut(lines[0], " ")
	if !ok {
		return transcriptEntry{}, fmt.Errorf("request line %q: want METHOD URL", lines[0])
	}
	e := transcriptEntry{Method: method}
	e.Path, e.Query, _ = strings.Cut(rawURL, "?")
	e.Path = strings.TrimPrefix(e.Path, computeRoot)
	i := skipHeaders(lines, 1)
	status := -1
	for j := i; j < len(lines); j++ {
		if statusLineRE.MatchString(lines[j]) && (j == i || lines[j-1] == "") {
			status = j
			break
		}
	}
	if status < 0 {
		return transcriptEntry{}, fmt.Errorf("%s %s: no status line", method, rawURL)
	}
	e.Body = strings.TrimSpace(strings.Join(lines[i:status], "\n"))
	e.Status, _ = strconv.Atoi(lines[status][:3])
	j := skipHeaders(lines, status+1)
	e.Response = strings.TrimSpace(strings.Join(lines[j:], "\n"))
	return e, nil
}

// skipHeaders returns the index of the first line after the header block
// that starts at i and the blank line that ends it.
func skipHeaders(lines []string, i int) int {
	for i < len(lines) && lines[i] != "" {
		i++
	}
	return i + 1
}

func TestParseTranscriptReadsRequestsAndAnswers(t *testing.T) {
	log := strings.Join([]string{
		"GET https://compute.googleapis.com/compute/v1/projects/p/global/networks/n?alt=json",
		"User-Agent: kcc",
		"",
		"404 Not Found",
		"Content-Type: application/json; charset=UTF-8",
		"",
		`{"error": {"code": 404}}`,
		"",
		"---",
		"",
		"POST https://compute.googleapis.com/compute/v1/projects/p/global/networks",
		"Content-Type: application/json",
		"",
		"{",
		`  "name": "n"`,
		"}",
		"",
		"200 OK",
		"Content-Type: application/json; charset=UTF-8",
		"",
		`{"kind": "compute#operation"}`,
	}, "\n")
	got, err := parseTranscript(log)
	if err != nil {
		t.Fatal(err)
	}
	want := []transcriptEntry{
		{Method: "GET", Path: "projects/p/global/networks/n", Query: "alt=json", Status: 404, Response: `{"error": {"code": 404}}`},
		{Method: "POST", Path: "projects/p/global/networks", Body: "{\n  \"name\": \"n\"\n}", Status: 200, Response: `{"kind": "compute#operation"}`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseTranscript (-want +got):\n%s", diff)
	}
}
