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

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/computeclient"
)

// cloudSettings are what the trace needs to know about the cloud: from the
// CCM's cloud config (--cloud-config), overridden by flags.
type cloudSettings struct {
	cfg      *gce.Config
	project  string
	region   string
	endpoint string
}

// cloudSettingsOf reads the cloud config, if any, and applies the flags.
func cloudSettingsOf(o *Options) (*cloudSettings, error) {
	cfg := &gce.Config{}
	if o.CloudConfig != "" {
		f, err := os.Open(o.CloudConfig)
		if err != nil {
			return nil, fmt.Errorf("--cloud-config: %w", err)
		}
		defer f.Close()
		if cfg, err = gce.ParseConfig(f); err != nil {
			return nil, fmt.Errorf("--cloud-config %s: %w", o.CloudConfig, err)
		}
	}
	if o.Project != "" {
		// The project joins the cluster's identity on a Shared VPC
		// (gce.Config.Owner): the flag's project is the one to own.
		cfg.ProjectID = o.Project
	}
	s := &cloudSettings{cfg: cfg, project: cfg.ProjectID, region: regionOfZone(cfg.LocalZone), endpoint: cfg.APIEndpoint}
	if o.Region != "" {
		s.region = o.Region
	}
	if o.ComputeEndpoint != "" {
		s.endpoint = o.ComputeEndpoint
	}
	switch {
	case s.project == "":
		return nil, fmt.Errorf("no project: set --project, or [global] project-id in the file of --cloud-config")
	case s.region == "":
		return nil, fmt.Errorf("no region: set --region, or [global] local-zone in the file of --cloud-config")
	}
	return s, nil
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
			return nil, fmt.Errorf("--cloud-config %s: api-endpoint %s is not Google's API over https; kubectl-vpc sends your Google credentials there only with --send-credentials-to-endpoint (or set [compute-api] no-authentication = true for an endpoint that takes none)", o.CloudConfig, s.endpoint)
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
