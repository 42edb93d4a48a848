package nlb

import (
	"context"
	"strings"
	"sync"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/computeclient"
)

// A node change touches a backend-service load balancer in two places only:
// the members of the cluster's shared instance groups, and the backend
// service's list of zones. Nothing else (address, health check, forwarding
// rules, firewall rules by target tag) depends on the nodes. UpdateNodes
// uses that to absorb a node change without reading the whole load
// balancer of every Service: with 1,000 Services, one node added costs one
// addInstances, not 1,000 full reconciles.

// builtBS remembers the backend services this process ensured, with the
// zones of their backends, as of the last successful ensure. Ensure forgets
// a Service's entry before it starts, so the entry exists only while the
// last ensure ended with a backend service in place.
var builtBS sync.Map // bsKey -> zones joined

type bsKey struct {
	api  *computeclient.Client
	base string
}

func rememberBuilt(api *computeclient.Client, base string, zones []string) {
	builtBS.Store(bsKey{api, base}, strings.Join(zones, ","))
}

func forgetBuilt(api *computeclient.Client, base string) { builtBS.Delete(bsKey{api, base}) }

// UpdateNodes follows a node change on a Service whose backend-service load
// balancer this process built: each zone's shared group is brought to the
// nodes (no call when the group is known to be in sync). It answers false,
// and does nothing, when it cannot do the job alone: a Service it has not
// built, a target pool, or a change of the zones that have nodes (the
// backend service's backends change); the caller then ensures the whole load
// balancer.
func UpdateNodes(ctx context.Context, api *computeclient.Client, p Params, svc *v1.Service, nodes []*v1.Node) (bool, error) {
	d, err := Desire(svc, nodes, p)
	if err != nil {
		return false, nil // Ensure reports it
	}
	zones := sortedZones(d.Groups)
	built, ok := builtBS.Load(bsKey{api, d.Base})
	if !ok || built.(string) != strings.Join(zones, ",") {
		return false, nil
	}
	var fns []func() error
	for _, zone := range zones {
		if cachedInSync(api, igLink(p, zone), d.Groups[zone]) {
			continue
		}
		fns = append(fns, func() error { return syncGroup(ctx, api, p, zone, d.Groups[zone]) })
	}
	if err := parallel(fns...); err != nil {
		// The next try ensures the whole load balancer.
		forgetBuilt(api, d.Base)
		return true, err
	}
	return true, nil
}
