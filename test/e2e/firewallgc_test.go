package e2e

import (
	"errors"
	"net/http"
	"testing"

	"google.golang.org/api/googleapi"
)

// The firewall garbage collector is a controller of the command's map, so
// --controllers decides whether it runs: with *,-firewall-gc the command
// leaves it out and a rule of a Service that is gone stays; with the
// default, the collector deletes that rule once the leader starts it.
func TestTheFirewallGarbageCollectorIsAControllerThatControllersTurnsOff(t *testing.T) {
	orphan := leaveAnOrphanFirewallRule(t, "gc-off")
	off := startCCM(t, "ccm-gc-off", "--controllers=*,-firewall-gc")
	eventually(t, convergeWithin, "the command leaves firewall-gc out", func() (bool, error) {
		return off.LogContains(`"firewall-gc" is disabled`), nil
	})
	if off.LogContains("Starting the firewall garbage collector") {
		t.Errorf("the collector started although --controllers turned it off; see %s", off.LogPath())
	}
	if !orphanExists(t, orphan) {
		t.Fatalf("the rule %s was deleted with the collector off", orphan)
	}
	off.Stop()

	on := startCCM(t, "ccm-gc-on")
	eventually(t, convergeWithin, "the collector, on by default, deletes "+orphan, func() (bool, error) {
		return !orphanExists(t, orphan), nil
	})
	if !on.LogContains("Starting the firewall garbage collector") {
		t.Errorf("no start of the collector in %s", on.LogPath())
	}
	noForbiddenCalls(t, on)
}

// orphanExists reports whether the firewall rule is there: the rule, or a
// 404, and no other answer.
func orphanExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := s.cloud.Compute.Firewalls.Get(s.cloud.Project, name).Do()
	var gerr *googleapi.Error
	if errors.As(err, &gerr) && gerr.Code == http.StatusNotFound {
		return false
	}
	if err != nil {
		t.Fatalf("get firewall %s: %v", name, err)
	}
	return true
}
