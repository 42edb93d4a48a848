package version

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	placeholder := Info{GitVersion: "v0.0.0-master+$Format:%H$", GitCommit: "$Format:%H$", BuildDate: "1970-01-01T00:00:00Z", GoVersion: "go1.26.8"}
	for _, tt := range []struct {
		name string
		info Info
		bi   *debug.BuildInfo
		want Info
	}{
		{
			name: "a binary stamped by the Makefile reports the stamp",
			info: Info{GitVersion: "v0.2.0", GitCommit: "0123abc", GitTreeState: "clean", BuildDate: "2026-12-07T06:00:00Z"},
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "fff"}}},
			want: Info{GitVersion: "v0.2.0", GitCommit: "0123abc", GitTreeState: "clean", BuildDate: "2026-12-07T06:00:00Z"},
		},
		{
			name: "a stamped version without a commit says the commit is unknown",
			info: Info{GitVersion: "v0.0.0-dev", GitCommit: "$Format:%H$", BuildDate: "1970-01-01T00:00:00Z"},
			want: Info{GitVersion: "v0.0.0-dev", GitCommit: Unknown, BuildDate: "1970-01-01T00:00:00Z"},
		},
		{
			name: "an unstamped build without build information is v0.0.0-dev",
			info: placeholder,
			want: Info{GitVersion: Dev, GitCommit: Unknown, BuildDate: Unknown, GoVersion: "go1.26.8"},
		},
		{
			name: "an unstamped build of the work tree without VCS stamping is v0.0.0-dev",
			info: placeholder,
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want: Info{GitVersion: Dev, GitCommit: Unknown, BuildDate: Unknown, GoVersion: "go1.26.8"},
		},
		{
			name: "go install of a released module reports the module version",
			info: placeholder,
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v0.3.1"}},
			want: Info{GitVersion: "v0.3.1", GitCommit: Unknown, BuildDate: Unknown, GoVersion: "go1.26.8"},
		},
		{
			name: "a build inside a git work tree reports the revision, its time and whether the tree was modified",
			info: placeholder,
			bi: &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261207060000-0123456789ab+dirty"}, Settings: []debug.BuildSetting{
				{Key: "vcs", Value: "git"},
				{Key: "vcs.revision", Value: "0123456789abcdef"},
				{Key: "vcs.time", Value: "2026-12-07T06:00:00Z"},
				{Key: "vcs.modified", Value: "true"},
			}},
			want: Info{GitVersion: "v0.0.0-20261207060000-0123456789ab+dirty", GitCommit: "0123456789abcdef", GitTreeState: "dirty", BuildDate: "2026-12-07T06:00:00Z", GoVersion: "go1.26.8"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, resolve(tt.info, tt.bi)); diff != "" {
				t.Errorf("resolve (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLineNamesTheProgramVersionCommitAndDate(t *testing.T) {
	got := line("fake-gce", Info{GitVersion: "v0.2.0", GitCommit: "0123abc", BuildDate: "2026-12-07T06:00:00Z", GoVersion: "go1.26.8", Platform: "linux/amd64"})
	want := "fake-gce v0.2.0 (commit 0123abc, built 2026-12-07T06:00:00Z, go1.26.8, linux/amd64)"
	if got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
}

func TestPrintIfRequested(t *testing.T) {
	for _, tt := range []struct {
		value     string
		printed   bool
		startWith string
	}{
		{"false", false, ""},
		{"", false, ""},
		{"true", true, "kubectl-vpc v"},
		{"raw", true, "version.Info{"},
	} {
		var out bytes.Buffer
		if got := PrintIfRequested(&out, "kubectl-vpc", tt.value); got != tt.printed || !strings.HasPrefix(out.String(), tt.startWith) {
			t.Errorf("--version=%q: printed %v %q, want %v and a line starting %q", tt.value, got, out.String(), tt.printed, tt.startWith)
		}
	}
}
