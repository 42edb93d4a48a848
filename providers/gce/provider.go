// Package gce is the cloud provider (cloudprovider.Interface) for VPCs that
// speak the Compute Engine v1 API. It registers itself as "gce".
//
// It initialises and watches nodes (InstancesV2), reports zones, programs
// pod-CIDR routes, and serves LoadBalancer Services. Every call to the cloud
// goes through computeclient; every resource it creates is named and marked
// by ownership, and it never changes or deletes one without that marker.
package gce

import (
	"context"
	"fmt"
	"io"
	"strings"

	"cloud.google.com/go/compute/metadata"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
)

// ProviderName is the name the provider registers under (--cloud-provider).
const ProviderName = "gce"

// Options are the settings that come from the command line, not the cloud config.
type Options struct {
	// ClusterName is --cluster-name: it scopes the ownership of every
	// resource. New refuses one cloudconfig.CheckClusterName refuses.
	ClusterName string
	UserAgent   string
}

// Cloud is the provider.
type Cloud struct {
	cfg          *cloudconfig.Config
	api          *computeclient.Client
	owner        ownership.Cluster
	project      string
	region       string
	localZone    string
	managedZones []string
	networkURL   string
	subnetwork   foundSubnetwork // when the config names none
	lbs          balancers
}

var _ cloudprovider.Interface = (*Cloud)(nil)

func init() {
	// The registry's factory is not told --cluster-name: it gets the default
	// name, which New accepts only when the cloud config allows it.
	cloudprovider.RegisterCloudProvider(ProviderName, func(r io.Reader) (cloudprovider.Interface, error) {
		cfg, err := cloudconfig.Parse(r)
		if err != nil {
			return nil, err
		}
		return New(context.Background(), cfg, Options{ClusterName: ownership.DefaultClusterName})
	})
}

// New builds the provider: it checks the cluster name, fills what the
// config leaves out from the metadata server, sets up authentication and the
// compute client, and reads the region's zones when the cluster spans them.
func New(ctx context.Context, cfg *cloudconfig.Config, opts Options) (*Cloud, error) {
	if err := cloudconfig.CheckClusterName(opts.ClusterName, cfg); err != nil {
		return nil, err
	}
	if err := checkManagedZones(cfg); err != nil {
		return nil, err
	}
	for _, key := range cfg.Ignored {
		klog.FromContext(ctx).Info("The cloud config sets a key of the upstream GCE provider that does nothing here; ignored (docs/cloud-config.md)", "key", key)
	}
	if err := fillFromMetadata(ctx, cfg); err != nil {
		return nil, err
	}
	if err := nodeTagsProblem(cfg); err != nil {
		return nil, err
	}
	api, err := newComputeClient(ctx, cfg, opts.UserAgent)
	if err != nil {
		return nil, err
	}
	c := &Cloud{
		cfg: cfg, api: api, project: cfg.ProjectID,
		localZone: cfg.LocalZone, region: regionOf(cfg.LocalZone), managedZones: []string{cfg.LocalZone},
		networkURL: cfg.NetworkLink(),
	}
	c.owner = c.cfg.Owner(opts.ClusterName)
	if cfg.Regional || cfg.Multizone {
		r, err := api.GetRegion(ctx, c.region)
		if err != nil {
			return nil, fmt.Errorf("read the zones of region %s: %w", c.region, err)
		}
		c.managedZones = nil
		for _, z := range r.Zones {
			c.managedZones = append(c.managedZones, ownership.LastSegment(z))
		}
	}
	if len(cfg.NodeTags) == 0 {
		instances, err := api.ListInstancesNamed(ctx, cfg.NodeInstancePrefix)
		if err != nil {
			return nil, fmt.Errorf("list the instances named %s* for their network tags ([global] node-instance-prefix): %w", cfg.NodeInstancePrefix, err)
		}
		if cfg.NodeTags, err = deriveNodeTags(instances, cfg.NodeInstancePrefix, c.managedZones); err != nil {
			return nil, err
		}
		klog.FromContext(ctx).Info("Node tags derived from the instances named with node-instance-prefix", "prefix", cfg.NodeInstancePrefix, "tags", cfg.NodeTags)
	}
	klog.FromContext(ctx).Info("Cloud provider ready", "project", c.project, "region", c.region, "zones", c.managedZones, "network", c.networkURL, "cluster", opts.ClusterName)
	return c, nil
}

// newComputeClient authenticates and builds the compute client. A
// numeric project-id or network-project-id is first turned into the
// project's id (resolveProjectNumbers), and the client built again for it.
func newComputeClient(ctx context.Context, cfg *cloudconfig.Config, userAgent string) (*computeclient.Client, error) {
	httpClient, err := authenticatedClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	newAPI := func() (*computeclient.Client, error) {
		return computeclient.New(ctx, computeclient.Config{
			Project: cfg.ProjectID, NetworkProject: cfg.NetworkProject(), Endpoint: cfg.APIEndpoint, HTTPClient: httpClient,
			QPS: cfg.API.QPS, Burst: cfg.API.Burst, MaxRetries: cfg.API.MaxRetries, UserAgent: userAgent,
		})
	}
	api, err := newAPI()
	if err != nil {
		return nil, err
	}
	if !cloudconfig.IsProjectNumber(cfg.ProjectID) && !cloudconfig.IsProjectNumber(cfg.NetworkProjectID) {
		return api, nil
	}
	if err := resolveProjectNumbers(ctx, cfg, api.GetProject); err != nil {
		return nil, err
	}
	return newAPI()
}

// checkManagedZones refuses a single-zone cluster whose zone is not in the
// cloud config. The managed zones decide which instances are nodes; they
// must be the cluster's, the same in every replica. The metadata server's
// instance/zone is the zone of the replica that asks, so with leader
// election the set would change with the leader. A regional (or multizone)
// cluster manages every zone of the region, as the upstream GCE provider
// does (kubernetes/cloud-provider-gcp providers/gce/gce.go,
// generateCloudConfig: with multizone or regional, ManagedZones = nil "Use
// all zones in region"), so there a replica's zone only names the region.
func checkManagedZones(cfg *cloudconfig.Config) error {
	if cfg.LocalZone != "" || cfg.Regional || cfg.Multizone {
		return nil
	}
	return &cloudconfig.Error{Key: "[global] local-zone", Problem: "not set, and neither regional nor multizone is: set it to the cluster's zone " +
		"(a replica's own zone from the metadata server would change the cluster's zone with the leader)"}
}

// fillFromMetadata asks the metadata server for what the config leaves out:
// the project, the local zone and the network. It asks nothing when the
// config is complete.
func fillFromMetadata(ctx context.Context, cfg *cloudconfig.Config) error {
	if cfg.ProjectID != "" && cfg.LocalZone != "" && cfg.NetworkName != "" {
		return nil
	}
	md := metadata.NewClient(nil)
	ask := func(key, path string, set func(string)) error {
		v, err := md.GetWithContext(ctx, path)
		if err != nil {
			return &cloudconfig.Error{Key: "[global] " + key, Problem: fmt.Sprintf("not set, and the metadata server did not say (%v); set it in the cloud config", err)}
		}
		set(strings.TrimSpace(v))
		return nil
	}
	if cfg.ProjectID == "" {
		if err := ask("project-id", "project/project-id", func(v string) { cfg.ProjectID = v }); err != nil {
			return err
		}
	}
	if cfg.LocalZone == "" {
		if err := ask("local-zone", "instance/zone", func(v string) { cfg.LocalZone = ownership.LastSegment(v) }); err != nil {
			return err
		}
	}
	if cfg.NetworkName == "" {
		if err := ask("network-name", "instance/network-interfaces/0/network", func(v string) { cfg.NetworkName = ownership.LastSegment(v) }); err != nil {
			return err
		}
	}
	return nil
}

func regionOf(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		return zone[:i]
	}
	return zone
}

// Initialize is called by the controller manager before controllers
// start. The provider needs no Kubernetes client: it writes nothing to the
// Kubernetes API (the service controller writes what its errors say), and
// its firewall garbage collection runs as a controller of the command
// (CollectFirewallGarbage).
func (c *Cloud) Initialize(cloudprovider.ControllerClientBuilder, <-chan struct{}) {}

// LoadBalancer serves LoadBalancer Services (loadbalancer.go).
func (c *Cloud) LoadBalancer() (cloudprovider.LoadBalancer, bool) { return c, true }

// Instances is the old interface; InstancesV2 replaces it.
func (c *Cloud) Instances() (cloudprovider.Instances, bool) { return nil, false }

// InstancesV2 serves node initialisation and lifecycle.
func (c *Cloud) InstancesV2() (cloudprovider.InstancesV2, bool) { return c, true }

// Zones reports zones and regions.
func (c *Cloud) Zones() (cloudprovider.Zones, bool) { return c, true }

// Clusters is not supported.
func (c *Cloud) Clusters() (cloudprovider.Clusters, bool) { return nil, false }

// Routes programs pod-CIDR routes.
func (c *Cloud) Routes() (cloudprovider.Routes, bool) { return c, true }

// ProviderName is "gce".
func (c *Cloud) ProviderName() string { return ProviderName }

// HasClusterID is true: --cluster-name scopes every resource.
func (c *Cloud) HasClusterID() bool { return true }
