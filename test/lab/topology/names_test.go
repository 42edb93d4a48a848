package topology

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOwnerPID(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		pid    int
		isLabs bool
	}{
		{name: "a prefixed namespace names its owner", in: PrefixFor(4242) + "vpc", pid: 4242, isLabs: true},
		{name: "the highest pid Linux hands out still fits", in: PrefixFor(4194304) + "mgmt", pid: 4194304, isLabs: true},
		{name: "the management bridge is a lab name", in: PrefixFor(77) + "mgmt", pid: 77, isLabs: true},
		{name: "a name without the head is not the lab's", in: "eth0", isLabs: false},
		{name: "the head alone is not the lab's", in: "cpl-vpc", isLabs: false},
		{name: "a head without the dash is not the lab's", in: "cpl12", isLabs: false},
		{name: "a pid that is not base 36 is not the lab's", in: "cplZZ-vpc", isLabs: false},
		{name: "a pid with a leading zero is not how the lab writes one", in: "cpl012-vpc", isLabs: false},
		{name: "pid zero is not a process", in: "cpl0-vpc", isLabs: false},
		{name: "an over-long pid is not the lab's", in: "cpl1234567-vpc", isLabs: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid, ok := ownerPID(tt.in)
			if ok != tt.isLabs || pid != tt.pid {
				t.Errorf("ownerPID(%q) = %d, %v; want %d, %v", tt.in, pid, ok, tt.pid, tt.isLabs)
			}
		})
	}
}

func TestLeftovers(t *testing.T) {
	running := func(pid int) bool { return pid == 10 }
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{name: "names of a dead run are leftovers",
			names: []string{PrefixFor(11) + "vpc", PrefixFor(11) + "node-1"}, want: []string{PrefixFor(11) + "vpc", PrefixFor(11) + "node-1"}},
		{name: "names of a running lab are kept", names: []string{PrefixFor(10) + "vpc"}},
		{name: "names the lab did not make are never leftovers", names: []string{"eth0", "docker0", "cni-1234"}},
		{name: "a mix keeps only the dead run's names",
			names: []string{"lo", PrefixFor(10) + "mgmt", PrefixFor(12) + "mgmt"}, want: []string{PrefixFor(12) + "mgmt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, leftovers(tt.names, running)); diff != "" {
				t.Errorf("leftovers (-want +got):\n%s", diff)
			}
		})
	}
}
