package topology

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
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
