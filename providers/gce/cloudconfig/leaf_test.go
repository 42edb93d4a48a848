package cloudconfig

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Tools that read the cloud config (kubectl-vpc) link this package, so it
// must register nothing and bring in no provider code: no init() of its
// own, and none of the provider's packages among everything it links.
func TestTheCloudConfigHasNoInitAndLinksNoProviderPackage(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "init" {
				t.Errorf("%s declares init()", fset.Position(fn.Pos()))
			}
		}
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const provider = "github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce"
	for _, dep := range strings.Fields(string(out)) {
		if dep == provider || (strings.HasPrefix(dep, provider+"/") && dep != provider+"/cloudconfig") {
			t.Errorf("cloudconfig links %s", dep)
		}
	}
}
