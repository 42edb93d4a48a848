// Command vpc-cloud-controller-manager is the cloud-controller-manager for
// VPCs that speak the Compute Engine v1 API: the standard controllers of
// k8s.io/cloud-provider (cloud-node, cloud-node-lifecycle, service, route)
// running with the "gce" provider of this repository, and the nodeip-service
// controller of the nodeip load balancer mode.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cloud-provider/app"
	"k8s.io/cloud-provider/names"
	"k8s.io/cloud-provider/options"
	"k8s.io/component-base/cli"
	cliflag "k8s.io/component-base/cli/flag"
	_ "k8s.io/component-base/logs/json/register"          // the JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // the version metric
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/cmd/vpc-cloud-controller-manager/ccm"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/internal/version"
)

func main() {
	opts, err := options.NewCloudControllerManagerOptions()
	if err != nil {
		klog.Fatalf("unable to initialize command options: %v", err)
	}
	ccm.SetExposureDefaults(opts)
	flags := cliflag.NamedFlagSets{}
	settings := ccm.AddFlags(flags.FlagSet("vpc"))
	command := app.NewCloudControllerManagerCommand(opts, ccm.CloudInitializer(settings, os.Stderr, os.Exit),
		ccm.ControllerInitFuncConstructors(), names.CCMControllerAliases(), flags, wait.NeverStop)
	// --version is component-base's flag (verflag), answered here so that
	// a build without the Makefile's -ldflags names this project's version
	// too (internal/version) rather than Kubernetes' placeholder. The
	// local configuration is checked before the upstream RunE, whose
	// configuration step already asks the API server.
	runE := command.RunE
	command.RunE = func(cmd *cobra.Command, args []string) error {
		if f := cmd.Flags().Lookup("version"); f != nil && version.PrintIfRequested(cmd.OutOrStdout(), "vpc-cloud-controller-manager", f.Value.String()) {
			return nil
		}
		if err := settings.CheckLocal(opts.KubeCloudShared); err != nil {
			fmt.Fprintf(os.Stderr, "vpc-cloud-controller-manager: %v\n", err)
			os.Exit(1)
		}
		return runE(cmd, args)
	}
	command.Use = "vpc-cloud-controller-manager"
	command.Long = `vpc-cloud-controller-manager runs the Kubernetes cloud controllers for a VPC
that speaks the Compute Engine v1 API: it initialises nodes registered by
--cloud-provider=external kubelets, deletes nodes whose instance is gone,
taints shut-down ones, programs pod-CIDR routes and serves LoadBalancer
Services (an external network load balancer, or the nodes' own addresses in
nodeip mode). Run it with --cloud-provider=gce and --cloud-config=gce.conf.`
	os.Exit(cli.Run(command))
}
