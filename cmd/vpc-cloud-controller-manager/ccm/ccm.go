// Package ccm wires the gce provider into the cloud-provider command: it
// reads the cloud config once, before anything asks the API server, and
// stops the process with one line when the config, the cluster or the cloud
// is not usable.
package ccm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"
	cmapp "k8s.io/controller-manager/app"

	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/cloud-provider/app"
	"k8s.io/cloud-provider/app/config"
	"k8s.io/cloud-provider/options"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
)

// Settings are this command's own flags, and the cloud config CheckLocal
// read.
type Settings struct {
	// APIServerWait bounds the wait for the Kubernetes API server at start.
	APIServerWait time.Duration

	config *cloudconfig.Config
}

// AddFlags registers the command's own flags.
func AddFlags(fs *pflag.FlagSet) *Settings {
	s := &Settings{}
	fs.DurationVar(&s.APIServerWait, "apiserver-wait-timeout", time.Minute,
		"How long to wait at start for the Kubernetes API server's /healthz before giving up with an error (0 to not wait).")
	return s
}

// CheckLocal checks, from the parsed flags, everything that neither the
// cluster nor the cloud is asked about (the provider name, the cloud config,
// the cluster name), and keeps the cloud config for CloudInitializer. It
// must run before the upstream command builds its configuration, which
// already asks the API server (the delegated authentication's
// extension-apiserver-authentication ConfigMap, with the Pod's in-cluster
// identity): so a new install's typo in gce.conf is reported at once, not
// after an unreachable API server's timeouts.
func (s *Settings) CheckLocal(shared *options.KubeCloudSharedOptions) error {
	if name := shared.CloudProvider.Name; name != gce.ProviderName {
		return fmt.Errorf("--cloud-provider=%q: this binary serves %q", name, gce.ProviderName)
	}
	cfg, err := readConfig(shared.CloudProvider.CloudConfigFile)
	if err != nil {
		return err
	}
	if err := cloudconfig.CheckClusterName(shared.ClusterName, cfg); err != nil {
		return err
	}
	cfg.CredentialsFile = os.Getenv("GOOGLE_APPLICATION_CREDENTIALS")
	s.config = cfg
	return nil
}

// CloudInitializer returns the app's cloud initializer, which runs after
// s.CheckLocal: it waits for the Kubernetes API server (bounded), then
// builds the provider from the cloud config CheckLocal read. On any error
// it prints one line to errOut and calls exit(1): a cloud controller
// manager that cannot reach its cluster or its cloud must not start.
func CloudInitializer(s *Settings, errOut io.Writer, exit func(int)) app.InitCloudFunc {
	return func(c *config.CompletedConfig) cloudprovider.Interface {
		fail := func(err error) cloudprovider.Interface {
			fmt.Fprintf(errOut, "vpc-cloud-controller-manager: %v\n", err)
			exit(1)
			return nil
		}
		if s.config == nil {
			return fail(errors.New("the cloud config was not read: Settings.CheckLocal must run first"))
		}
		if s.APIServerWait > 0 {
			if err := cmapp.WaitForAPIServer(c.Client, s.APIServerWait); err != nil {
				return fail(fmt.Errorf("cannot reach the Kubernetes API server at %s within %s: %w", c.Kubeconfig.Host, s.APIServerWait, err))
			}
		}
		shared := c.ComponentConfig.KubeCloudShared
		cloud, err := gce.New(context.Background(), s.config, gce.Options{ClusterName: shared.ClusterName, UserAgent: "vpc-cloud-controller-manager"})
		if err != nil {
			return fail(err)
		}
		return cloud
	}
}

func readConfig(path string) (*cloudconfig.Config, error) {
	if path == "" {
		return cloudconfig.Parse(nil)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--cloud-config: %w", err)
	}
	defer f.Close()
	return cloudconfig.Parse(f)
}
