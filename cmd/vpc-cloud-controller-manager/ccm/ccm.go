// Package ccm wires the gce provider into the cloud-provider command: it
// reads the cloud config once and stops the process with one line when the
// config or the cloud is not usable.
package ccm

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"
	cmapp "k8s.io/controller-manager/app"

	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/cloud-provider/app"
	"k8s.io/cloud-provider/app/config"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce"
)

// Settings are this command's own flags.
type Settings struct {
	// APIServerWait bounds the wait for the Kubernetes API server at start.
	APIServerWait time.Duration
}

// AddFlags registers the command's own flags.
func AddFlags(fs *pflag.FlagSet) *Settings {
	s := &Settings{}
	fs.DurationVar(&s.APIServerWait, "apiserver-wait-timeout", time.Minute,
		"How long to wait at start for the Kubernetes API server's /healthz before giving up with an error (0 to not wait).")
	return s
}

// CloudInitializer returns the app's cloud initializer. It first checks
// what needs nothing but the flags and the files (the provider name, the
// cloud config, the cluster name), then waits for the Kubernetes API server
// (bounded), then builds the provider. So a new install's typo in gce.conf is
// reported at once, not after --apiserver-wait-timeout. On any error it
// prints one line to errOut and calls exit(1): a cloud controller manager
// that cannot reach its cluster or its cloud must not start.
func CloudInitializer(s *Settings, errOut io.Writer, exit func(int)) app.InitCloudFunc {
	return func(c *config.CompletedConfig) cloudprovider.Interface {
		fail := func(err error) cloudprovider.Interface {
			fmt.Fprintf(errOut, "vpc-cloud-controller-manager: %v\n", err)
			exit(1)
			return nil
		}
		cfg, err := localConfig(c)
		if err != nil {
			return fail(err)
		}
		if s.APIServerWait > 0 {
			if err := cmapp.WaitForAPIServer(c.Client, s.APIServerWait); err != nil {
				return fail(fmt.Errorf("cannot reach the Kubernetes API server at %s within %s: %w", c.Kubeconfig.Host, s.APIServerWait, err))
			}
		}
		shared := c.ComponentConfig.KubeCloudShared
		cloud, err := gce.New(context.Background(), cfg, gce.Options{ClusterName: shared.ClusterName, UserAgent: "vpc-cloud-controller-manager"})
		if err != nil {
			return fail(err)
		}
		return cloud
	}
}

// localConfig checks everything that neither the cluster nor the cloud is
// asked about, and returns the parsed cloud config.
func localConfig(c *config.CompletedConfig) (*gce.Config, error) {
	shared := c.ComponentConfig.KubeCloudShared
	if name := shared.CloudProvider.Name; name != gce.ProviderName {
		return nil, fmt.Errorf("--cloud-provider=%q: this binary serves %q", name, gce.ProviderName)
	}
	cfg, err := readConfig(shared.CloudProvider.CloudConfigFile)
	if err != nil {
		return nil, err
	}
	if err := gce.CheckClusterName(shared.ClusterName, cfg); err != nil {
		return nil, err
	}
	cfg.CredentialsFile = os.Getenv("GOOGLE_APPLICATION_CREDENTIALS")
	return cfg, nil
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
