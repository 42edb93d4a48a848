package gce

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
)

// gcPeriod is how often firewall rules of vanished Services are collected.
const gcPeriod = 10 * time.Minute

// collectFirewallGarbage deletes, at start and every gcPeriod, the cluster's
// firewall rules whose Service no longer exists (by UID): what a Service
// deleted while no CCM ran, or whose finalizer was removed by hand, left
// behind. Rules of Services that exist, in either mode, are kept. It runs in
// the leader only: the controller manager calls Initialize there.
func (c *Cloud) collectFirewallGarbage(client kubernetes.Interface, stop <-chan struct{}) {
	ctx := wait.ContextForChannel(stop)
	log := klog.FromContext(ctx).WithName("firewall-gc")
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		deleted, err := c.collectFirewallGarbageOnce(klog.NewContext(ctx, log), client)
		if err != nil {
			log.Error(err, "Firewall garbage collection failed")
		}
		if len(deleted) > 0 {
			log.Info("Deleted firewall rules of Services that are gone", "rules", deleted)
		}
	}, gcPeriod)
}

// collectFirewallGarbageOnce is one pass of the collector. It considers only
// the rules c.owner owns (name prefix and marker, with the service project
// on a Shared VPC) on the cluster's network: another cluster's Services are
// not in this cluster's API server, so its rules would all look dead.
func (c *Cloud) collectFirewallGarbageOnce(ctx context.Context, client kubernetes.Interface) ([]string, error) {
	log := klog.FromContext(ctx)
	// Services are listed after the firewall rules (on the first rule
	// with a UID): a rule in the list was made after its Service
	// existed, so a Service created meanwhile cannot lose its new rule.
	// If the list fails, every rule is kept.
	var live map[string]bool
	var listErr error
	return firewall.CollectGarbage(ctx, c.api, c.owner, c.networkURL, func(uid string) bool {
		if live == nil && listErr == nil {
			if live, listErr = liveServiceUIDs(ctx, client); listErr != nil {
				log.Error(listErr, "Cannot list Services; keeping every rule this time")
			}
		}
		return listErr != nil || live[uid]
	})
}

func liveServiceUIDs(ctx context.Context, client kubernetes.Interface) (map[string]bool, error) {
	live := map[string]bool{}
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := client.CoreV1().Services("").List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, s := range list.Items {
			live[string(s.UID)] = true
		}
		if list.Continue == "" {
			return live, nil
		}
		opts.Continue = list.Continue
	}
}
