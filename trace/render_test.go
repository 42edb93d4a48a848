package trace

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ with the output of this run")

// goldenScenarios are traced into every output format; docs/trace.md
// shows their diagrams.
var goldenScenarios = []struct {
	name string
	in   func() Input
}{
	{"external-cluster-cross-node", func() Input { return newLab().input(toNode("node-3")) }},
	{"nodeip-internal-ip", func() Input { return newLab(withNodeIP(v1.NodeInternalIP, 1, 2)).input(toNode("node-2")) }},
	{"nodeip-unpublished-node", func() Input {
		return newLab(withNodeIP(v1.NodeInternalIP, 1), withNotReady(2)).input(toNode("node-2"))
	}},
}

func TestOutputFormats(t *testing.T) {
	formats := []struct {
		ext   string
		write func(io.Writer, *Trace) error
	}{
		{".txt", WriteText},
		{".json", WriteJSON},
		{".mmd", WriteMermaid},
	}
	for _, sc := range goldenScenarios {
		tr, err := Run(sc.in())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range formats {
			t.Run(sc.name+f.ext, func(t *testing.T) {
				var got bytes.Buffer
				if err := f.write(&got, tr); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", sc.name+f.ext)
				if *update {
					if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (go test ./trace -update writes it)", err)
				}
				if diff := cmp.Diff(string(want), got.String()); diff != "" {
					t.Errorf("%s differs (-want +got); go test ./trace -update rewrites it:\n%s", path, diff)
				}
			})
		}
	}
}

// TestDocsShowTheGoldenOutput keeps docs/trace.md's examples what the
// command prints: its diagrams and its drop are golden files verbatim.
func TestDocsShowTheGoldenOutput(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "trace.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, golden := range []string{"external-cluster-cross-node.mmd", "nodeip-internal-ip.mmd", "nodeip-unpublished-node.txt"} {
		want, err := os.ReadFile(filepath.Join("testdata", golden))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(doc, want) {
			t.Errorf("docs/trace.md does not show testdata/%s as it is: copy it there", golden)
		}
	}
}
