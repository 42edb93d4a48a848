package ccm

import (
	"net"

	"k8s.io/cloud-provider/options"
)

// SetExposureDefaults changes two upstream defaults of the secure port
// (--secure-port, 10258): it listens on 127.0.0.1 instead of every
// interface (--bind-address), and serves no /debug/pprof (--profiling).
// The CCM runs with hostNetwork, so upstream's 0.0.0.0 would put its
// unauthenticated /healthz (k8s.io/apiserver always allows /healthz,
// /readyz and /livez) and profiling on every address of the control-plane
// nodes. The kubelet's probes reach 127.0.0.1 (deploy/base sets their host).
// Both stay flags: a scraper of /metrics off the node needs --bind-address
// set to an address it can reach (docs/security.md).
func SetExposureDefaults(o *options.CloudControllerManagerOptions) {
	o.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	o.Generic.Debugging.EnableProfiling = false
}
