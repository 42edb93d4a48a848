// Package version is what every binary of this project says it is: its
// version, the commit it was built from and when that commit was made.
//
// The Makefile stamps k8s.io/component-base/version's variables through
// -ldflags -X (gitVersion, gitCommit, gitTreeState, buildDate), the way
// Kubernetes components are stamped, so that the CCM's /version endpoint and
// its kubernetes_build_info metric carry this project's version too. A build
// without those flags (go run, go install) reports what the Go toolchain
// recorded in the binary (debug.ReadBuildInfo), and v0.0.0-dev when that is
// nothing. This package never reads the clock or the network.
package version

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	apimachineryversion "k8s.io/apimachinery/pkg/version"
	componentversion "k8s.io/component-base/version"
)

// Dev is the version of a build that knows no better.
const Dev = "v0.0.0-dev"

// Unknown stands for a commit or date the build did not record.
const Unknown = "unknown"

// Info is the version information of the running binary.
type Info = apimachineryversion.Info

// Get returns the running binary's version information.
func Get() Info {
	info := componentversion.Get()
	bi, _ := debug.ReadBuildInfo()
	return resolve(info, bi)
}

// Line is the answer to --version: the program's name, its version, commit
// and build date on one line.
func Line(program string) string {
	return line(program, Get())
}

func line(program string, i Info) string {
	return fmt.Sprintf("%s %s (commit %s, built %s, %s, %s)", program, i.GitVersion, i.GitCommit, i.BuildDate, i.GoVersion, i.Platform)
}

// PrintIfRequested prints the answer to a --version flag whose value is
// "true" (one line) or "raw" (every field, as k8s.io/component-base's verflag
// prints it) and reports whether it printed anything.
func PrintIfRequested(w io.Writer, program, flagValue string) bool {
	switch flagValue {
	case "true":
		fmt.Fprintln(w, Line(program))
	case "raw":
		fmt.Fprintf(w, "%#v\n", Get())
	default:
		return false
	}
	return true
}

// stamped reports whether -ldflags set component-base's gitVersion: its
// default is "v0.0.0-master+$Format:%H$", a placeholder for git archive
// (k8s.io/component-base/version/base.go).
func stamped(i Info) bool {
	return i.GitVersion != "" && !strings.Contains(i.GitVersion, "$Format")
}

// resolve fills what -ldflags did not stamp from the toolchain's build
// information (module version; vcs.revision, vcs.time and vcs.modified when
// built inside a git work tree with -buildvcs).
func resolve(i Info, bi *debug.BuildInfo) Info {
	if stamped(i) {
		if i.GitCommit == "" || strings.Contains(i.GitCommit, "$Format") {
			i.GitCommit = Unknown
		}
		return i
	}
	i.GitVersion, i.GitCommit, i.GitTreeState, i.BuildDate = Dev, Unknown, "", Unknown
	if bi == nil {
		return i
	}
	// A module version is "(devel)" for a build of the main module's own
	// work tree without VCS stamping; go install m@v1.2.3 records v1.2.3.
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		i.GitVersion = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.GitCommit = s.Value
		case "vcs.time":
			i.BuildDate = s.Value
		case "vcs.modified":
			i.GitTreeState = map[string]string{"true": "dirty", "false": "clean"}[s.Value]
		}
	}
	return i
}
