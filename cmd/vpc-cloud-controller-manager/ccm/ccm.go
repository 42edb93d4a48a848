// Package ccm wires the gce provider into the cloud-provider command: it
// reads the cloud config once and stops the process with one line when the
// config or the cloud is not usable.
package ccm

import (
	"context"
	"fmt"
	"io"
	"os"

	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/cloud-provider/app"
	"k8s.io/cloud-provider/app/config"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce"
)

// CloudInitializer returns the app's cloud initializer. On any error it
// prints one line to errOut and calls exit(1): a cloud controller manager
// without its cloud must not start.
func CloudInitializer(errOut io.Writer, exit func(int)) app.InitCloudFunc {
	return func(c *config.CompletedConfig) cloudprovider.Interface {
		cloud, err := newCloud(c)
		if err != nil {
			fmt.Fprintf(errOut, "vpc-cloud-controller-manager: %v\n", err)
			exit(1)
			return nil
		}
		return cloud
	}
}

func newCloud(c *config.CompletedConfig) (cloudprovider.Interface, error) {
	shared := c.ComponentConfig.KubeCloudShared
	if name := shared.CloudProvider.Name; name != gce.ProviderName {
		return nil, fmt.Errorf("--cloud-provider=%q: this binary serves %q", name, gce.ProviderName)
	}
	cfg, err := readConfig(shared.CloudProvider.CloudConfigFile)
	if err != nil {
		return nil, err
	}
	cfg.CredentialsFile = os.Getenv("GOOGLE_APPLICATION_CREDENTIALS")
	return gce.New(context.Background(), cfg, gce.Options{ClusterName: shared.ClusterName, UserAgent: "vpc-cloud-controller-manager"})
}

func readConfig(path string) (*gce.Config, error) {
	if path == "" {
		return gce.ParseConfig(nil)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--cloud-config: %w", err)
	}
	defer f.Close()
	return gce.ParseConfig(f)
}
