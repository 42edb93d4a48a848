package nodeip

import (
	"context"

	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// resync re-reads the controller's firewall rules with one list and looks
// again at the Services whose rule is not what the view remembered: a rule
// changed or deleted by hand, or collected as garbage, is put back within
// one interval.
//
// It collects no garbage itself: the firewall-gc controller does
// (firewall/firewallgc, at start and every ten minutes, in the leader),
// with firewall.CollectGarbage and a Service counted as live whatever its
// mode. That is the only safe reading of "live" there, since the external
// mode's rules carry the Service UID too; the rules of a Service that left
// nodeip mode are removed by the Service's own reconcile (release).
func (c *Controller) resync(ctx context.Context) {
	changed, err := c.view.refresh(ctx)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Cannot re-read the firewall rules")
		return
	}
	for _, fw := range changed {
		keys, _ := ownership.Parse(fw.Description)
		if key, uid := keys[ownership.ServiceKey], keys[ownership.ServiceUIDKey]; key != "" && uid != "" {
			c.firewallQueue.Add(firewallKey{Service: key, UID: uid})
			c.statusQueue.Add(key)
		}
	}
}
