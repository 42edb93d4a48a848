package topology

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Available says why the lab cannot run here, or nil: it needs root, named
// network namespaces, and the ip command (kube-proxy is started through
// `ip netns exec`).
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("the packet lab needs root (network namespaces, veths, iptables)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("the packet lab needs the ip command (iproute2)")
	}
	probe := PrefixFor(os.Getpid()) + "probe"
	if err := createNamespace(probe); err != nil {
		return fmt.Errorf("the packet lab needs network namespaces: %w", err)
	}
	return unmountNamespace(probe)
}

// RequireEnv names the switch that makes a lab that cannot run a failure
// instead of a skip. CI sets it: on a root machine the lab must run, and a
// missing package or a refused namespace must not pass unnoticed.
const RequireEnv = "CPV_REQUIRE_LAB"

// Required says whether RequireEnv is set.
func Required() bool { return os.Getenv(RequireEnv) != "" }

// Require skips t when the lab cannot run here, or fails it when RequireEnv
// is set.
func Require(t testing.TB) {
	t.Helper()
	err := Available()
	if err == nil {
		return
	}
	if Required() {
		t.Fatalf("the packet lab cannot run and %s is set: %v", RequireEnv, err)
	}
	t.Skipf("skipping the packet lab: %v", err)
}
