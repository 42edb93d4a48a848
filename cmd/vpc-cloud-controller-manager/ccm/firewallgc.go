package ccm

import (
	"context"
	"fmt"

	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/cloud-provider/app"
	"k8s.io/cloud-provider/app/config"
	genericcontrollermanager "k8s.io/controller-manager/app"
	"k8s.io/controller-manager/controller"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall/firewallgc"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce"
)

// FirewallGCClientName is the identity of the firewall garbage collector's
// Kubernetes client (its ServiceAccount with
// --use-service-account-credentials): it gets the Service a rule names when
// the shared cache does not know it.
const FirewallGCClientName = "firewall-gc-controller"

// startFirewallGC builds the firewall garbage collector on the shared
// Service informer, over the provider's rules.
func startFirewallGC(initContext app.ControllerInitContext, cfg *config.CompletedConfig, cloud cloudprovider.Interface) app.InitFunc {
	return func(ctx context.Context, _ genericcontrollermanager.ControllerContext) (controller.Interface, bool, error) {
		provider, ok := cloud.(*gce.Cloud)
		if !ok {
			return nil, false, fmt.Errorf("%s: the cloud provider is %T, not the gce provider", firewallgc.Name, cloud)
		}
		client, err := cfg.ClientBuilder.Client(initContext.ClientName)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", firewallgc.Name, err)
		}
		c := firewallgc.New(provider.CollectFirewallGarbage, client, cfg.SharedInformers.Core().V1().Services())
		go c.Run(ctx)
		return nil, true, nil
	}
}
