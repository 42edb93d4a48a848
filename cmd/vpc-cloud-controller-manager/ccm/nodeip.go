package ccm

import (
	"context"
	"fmt"
	"maps"

	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/cloud-provider/app"
	"k8s.io/cloud-provider/app/config"
	genericcontrollermanager "k8s.io/controller-manager/app"
	"k8s.io/controller-manager/controller"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nodeip"
)

// NodeIPClientName is the identity the nodeip controller's Kubernetes
// client uses (its service account with --use-service-account-credentials).
const NodeIPClientName = "nodeip-service-controller"

// ControllerInitFuncConstructors are the upstream cloud controllers plus
// the nodeip controller, so that --controllers and leader election cover
// it like the others.
func ControllerInitFuncConstructors() map[string]app.ControllerInitFuncConstructor {
	out := maps.Clone(app.DefaultInitFuncConstructors)
	out[nodeip.Name] = app.ControllerInitFuncConstructor{
		InitContext: app.ControllerInitContext{ClientName: NodeIPClientName},
		Constructor: startNodeIPController,
	}
	return out
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
		c, err := nodeip.New(client, informers.Core().V1().Services(), informers.Core().V1().Nodes(),
			informers.Discovery().V1().EndpointSlices(), provider.NodeIPDeps(cfg.ComponentConfig.KubeCloudShared.ClusterName), nodeip.Options{})
		if err != nil {
			return nil, false, err
		}
		go c.Run(ctx)
		return c, true, nil
	}
}
