package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"golang.org/x/oauth2/google"
	"google.golang.org/api/compute/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
)

// cloudSettings are what the trace needs to know about the cloud and the
// cluster: from the CCM's cloud config and --cluster-name (the flags, or
// else the CCM's DaemonSet), overridden by flags.
type cloudSettings struct {
	cfg         *cloudconfig.Config
	cfgFrom     string // where the cloud config comes from; "" without one
	project     string
	region      string
	endpoint    string
	clusterName string
}

// cloudSettingsOf reads the cloud config and the cluster name, and applies
// the flags. What --cloud-config and --cluster-name leave out comes from
// the CCM's DaemonSet as deploy/ installs it; a cluster without it, or a
// user who may not read it, needs the flags, and an error names the one
// that is missing and why the DaemonSet could not tell.
func cloudSettingsOf(ctx context.Context, o *Options, kube kubernetes.Interface) (*cloudSettings, error) {
	s := &cloudSettings{cfg: &cloudconfig.Config{}, clusterName: o.ClusterName}
	var text string
	if o.CloudConfig != "" {
		b, err := os.ReadFile(o.CloudConfig)
		if err != nil {
			return nil, fmt.Errorf("--cloud-config: %w", err)
		}
		text, s.cfgFrom = string(b), "--cloud-config "+o.CloudConfig
	}
	// Why the CCM's DaemonSet gave no cloud config or no cluster name.
	var noConfig, noName error
	if o.CloudConfig == "" || o.ClusterName == "" {
		c, found, err := findCCM(ctx, kube)
		if err == nil && !found {
			err = fmt.Errorf("no %s", c.name())
		}
		noConfig, noName = err, err
		if found && o.CloudConfig == "" {
			text, s.cfgFrom, noConfig = c.cloudConfig(ctx)
		}
		if found && o.ClusterName == "" {
			s.clusterName, noName = c.clusterName(ctx)
		}
	}
	if s.cfgFrom != "" {
		cfg, err := cloudconfig.Parse(strings.NewReader(text))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.cfgFrom, err)
		}
		s.cfg = cfg
	}
	if o.Project != "" {
		// The project joins the cluster's identity on a Shared VPC
		// (cloudconfig.Config.Owner): the flag's project is the one to own.
		s.cfg.ProjectID = o.Project
	}
	s.project, s.region, s.endpoint = s.cfg.ProjectID, regionOfZone(s.cfg.LocalZone), s.cfg.APIEndpoint
	if o.Region != "" {
		s.region = o.Region
	}
	if o.ComputeEndpoint != "" {
		s.endpoint = o.ComputeEndpoint
	}
	switch {
	case s.project == "":
		return nil, s.missing("project", "--project", "[global] project-id", noConfig)
	case s.region == "":
		return nil, s.missing("region", "--region", "[global] local-zone", noConfig)
	case s.clusterName == "":
		return nil, fmt.Errorf("no cluster name: set --cluster-name to the CCM's, which names the cluster's cloud resources (%v)", noName)
	}
	return s, nil
}

// missing says that neither flag nor the cloud config's key sets what.
func (s *cloudSettings) missing(what, flag, key string, noConfig error) error {
	if s.cfgFrom != "" {
		return fmt.Errorf("no %s: set %s, or %s in the cloud config (%s)", what, flag, key, s.cfgFrom)
	}
	return fmt.Errorf("no %s: set %s, or --cloud-config to the CCM's cloud config (%v)", what, flag, noConfig)
}

// computeClient is the compute API client of the settings. The user's
// Application Default Credentials go to Google's compute API over https
// only: no credentials go to --compute-endpoint (fake-gce) or to an
// endpoint whose cloud config says no-authentication, and another
// endpoint that the cloud config names gets them only with
// --send-credentials-to-endpoint, so that a cloud config from elsewhere
// cannot collect them.
func (s *cloudSettings) computeClient(ctx context.Context, o *Options) (*computeclient.Client, error) {
	var httpClient *http.Client
	if o.ComputeEndpoint == "" && !s.cfg.NoAuthentication {
		if !isGoogleAPI(s.endpoint) && !o.SendCredentialsToEndpoint {
			return nil, fmt.Errorf("%s: api-endpoint %s is not Google's API over https; kubectl-vpc sends your Google credentials there only with --send-credentials-to-endpoint (or set [compute-api] no-authentication = true for an endpoint that takes none)", s.cfgFrom, s.endpoint)
		}
		c, err := google.DefaultClient(ctx, compute.ComputeReadonlyScope)
		if err != nil {
			return nil, fmt.Errorf("compute API credentials (Application Default Credentials; --compute-endpoint for a local endpoint such as fake-gce): %w", err)
		}
		httpClient = c
	}
	return computeclient.New(ctx, computeclient.Config{Project: s.project, NetworkProject: s.cfg.NetworkProject(), Endpoint: s.endpoint, HTTPClient: httpClient,
		QPS: 50, Burst: 50, MaxRetries: 2, UserAgent: "kubectl-vpc"})
}

// isGoogleAPI reports whether endpoint is Google's compute API: the
// client's default (empty), or https to a host under googleapis.com (the
// domain of Google's API endpoints, including regional and private ones:
// https://cloud.google.com/vpc/docs/configure-private-google-access).
func isGoogleAPI(endpoint string) bool {
	if endpoint == "" {
		return true
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "https" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	return host == "googleapis.com" || strings.HasSuffix(host, ".googleapis.com")
}

// regionOfZone is us-central1 for us-central1-a.
func regionOfZone(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		return zone[:i]
	}
	return ""
}
