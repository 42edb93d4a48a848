package ccm

import (
	"context"
	"fmt"
	"maps"

	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/cloud-provider/app"
	"k8s.io/cloud-provider/app/config"
	"k8s.io/cloud-provider/names"
	genericcontrollermanager "k8s.io/controller-manager/app"
	"k8s.io/controller-manager/controller"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall/firewallgc"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nodeip"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/servicecontroller"
)

// NodeIPClientName is the identity the nodeip controller's Kubernetes
// client uses (its service account with --use-service-account-credentials).
const NodeIPClientName = "nodeip-service-controller"

// ControllerInitFuncConstructors are the upstream cloud controllers, with
// this project's LoadBalancer Service controller in the place of upstream's
// (same name, same client identity, same flags), plus the nodeip controller
// and the firewall garbage collector, so that --controllers and leader
// election cover them like the others.
func ControllerInitFuncConstructors() map[string]app.ControllerInitFuncConstructor {
	out := maps.Clone(app.DefaultInitFuncConstructors)
	upstream := out[names.ServiceLBController]
	out[names.ServiceLBController] = app.ControllerInitFuncConstructor{
		InitContext: upstream.InitContext,
		Constructor: startServiceController,
	}
	out[nodeip.Name] = app.ControllerInitFuncConstructor{
		InitContext: app.ControllerInitContext{ClientName: NodeIPClientName},
		Constructor: startNodeIPController,
	}
	out[firewallgc.Name] = app.ControllerInitFuncConstructor{
		InitContext: app.ControllerInitContext{ClientName: FirewallGCClientName},
		Constructor: startFirewallGC,
	}
	return out
}

// startServiceController builds the LoadBalancer Service controller on the
// shared informers, with upstream's --concurrent-service-syncs. It writes
// the external mode's LoadBalancerReady condition, with the provider's note
// on the Service's source ranges.
func startServiceController(initContext app.ControllerInitContext, cfg *config.CompletedConfig, cloud cloudprovider.Interface) app.InitFunc {
	return func(ctx context.Context, _ genericcontrollermanager.ControllerContext) (controller.Interface, bool, error) {
		client, err := cfg.ClientBuilder.Client(initContext.ClientName)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", names.ServiceLBController, err)
		}
		informers := cfg.SharedInformers
		c, err := servicecontroller.New(cloud, client, informers.Core().V1().Services(), informers.Core().V1().Nodes(),
			cfg.ComponentConfig.KubeCloudShared.ClusterName, servicecontroller.WithNote(gce.LoadBalancerNote))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", names.ServiceLBController, err)
		}
		go c.Run(ctx, int(cfg.ComponentConfig.ServiceController.ConcurrentServiceSyncs))
		return nil, true, nil
	}
}

// startNodeIPController builds the nodeip controller on the informers the
// upstream service and node controllers use (completedConfig.SharedInformers:
// one watch and one cache of Services and Nodes for all of them) and the
// provider's dependencies.
func startNodeIPController(initContext app.ControllerInitContext, cfg *config.CompletedConfig, cloud cloudprovider.Interface) app.InitFunc {
	return func(ctx context.Context, _ genericcontrollermanager.ControllerContext) (controller.Interface, bool, error) {
		provider, ok := cloud.(*gce.Cloud)
		if !ok {
			return nil, false, fmt.Errorf("%s: the cloud provider is %T, not the gce provider", nodeip.Name, cloud)
		}
		client, err := cfg.ClientBuilder.Client(initContext.ClientName)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", nodeip.Name, err)
		}
		informers := cfg.SharedInformers
		// --concurrent-service-syncs applies to nodeip Services too, with
		// the controller's own default as the floor (upstream's is 1).
		workers := max(int(cfg.ComponentConfig.ServiceController.ConcurrentServiceSyncs), nodeip.DefaultWorkers)
		c, err := nodeip.New(client, informers.Core().V1().Services(), informers.Core().V1().Nodes(),
			informers.Discovery().V1().EndpointSlices(), provider.NodeIPDeps(cfg.ComponentConfig.KubeCloudShared.ClusterName),
			nodeip.Options{StatusWorkers: workers, FirewallWorkers: workers})
		if err != nil {
			return nil, false, err
		}
		go c.Run(ctx)
		return c, true, nil
	}
}
