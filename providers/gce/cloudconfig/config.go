// Package cloudconfig is the cloud config (gce.conf) of the gce provider:
// its types, its parsing and validation, and what the cluster's identity
// derives from it (the network, the owner of every resource).
//
// Tools read it too (kubectl-vpc), and they must not link the provider nor
// register it: so this package never imports providers/gce or its load
// balancers (nlb, nodeip), and it has no init().
package cloudconfig

import (
	"net/netip"
)

// Config is the parsed and validated cloud config (gce.conf). It is read once
// at start; every part of the provider takes what it needs from it.
type Config struct {
	ProjectID          string
	NetworkProjectID   string
	NetworkName        string
	SubnetworkName     string
	NodeTags           []string
	NodeInstancePrefix string
	LocalZone          string
	Regional           bool
	Multizone          bool
	APIEndpoint        string
	TokenURL           string
	TokenBody          string
	// StackType is the cluster's stack (stack-type): IPV4, IPV4_IPV6 or
	// IPV6, which puts a node's IPv6 addresses first, as upstream does.
	StackType string
	// Ignored are the upstream keys the file sets that do nothing here
	// ("[global] alpha-features", ...), sorted: the provider warns once
	// for each.
	Ignored []string
	// TokenBodyFile ([compute-api] token-body-file) holds the body POSTed
	// to TokenURL, so that the secret lives in a Secret, not in gce.conf.
	TokenBodyFile string
	// NoAuthentication ([compute-api] no-authentication) sends no
	// credentials at all: for an endpoint such as fake-gce.
	NoAuthentication bool
	// CredentialsFile is GOOGLE_APPLICATION_CREDENTIALS as the command read
	// it: a credential configuration of any type Application Default
	// Credentials accept (service_account, external_account, ...).
	CredentialsFile string

	API          APIConfig
	LoadBalancer LoadBalancerConfig
	Cluster      ClusterConfig
}

// ClusterConfig holds the [cluster] section.
type ClusterConfig struct {
	// AllowDefaultName accepts --cluster-name=kubernetes, the name every
	// cluster that does not set one shares (CheckClusterName).
	AllowDefaultName bool
	// SharedVPCNameOnly keeps, on a Shared VPC, the identity by the
	// cluster name alone that clusters had before the service project
	// joined it (Owner).
	SharedVPCNameOnly bool
}

// APIConfig tunes the compute client.
type APIConfig struct {
	QPS        float64
	Burst      int
	MaxRetries int
}

// LoadBalancer modes.
const (
	ModeExternal = "external"
	ModeNodeIP   = "nodeip"
)

// LoadBalancerConfig holds the [load-balancer] section.
type LoadBalancerConfig struct {
	Mode string
	// Backend of external load balancers: target-pool or backend-service.
	Backend string
	// HealthCheckSourceRanges replace, per family, the health checkers'
	// ranges of every load balancer; none: GCE's of each scheme.
	HealthCheckSourceRanges []netip.Prefix
	NodeIPAddressType       string
	NodeIPSourceRanges      []netip.Prefix
	ReservedPorts           []PortRange
	// NodePortRange is the cluster's NodePort range (kube-apiserver
	// --service-node-port-range), which no API reports: nodeip reserves it.
	NodePortRange PortRange
	// NodeIPMaxPorts is the most ports one nodeip Service may ask for.
	NodeIPMaxPorts int
	// UserAddresses are the addresses this cluster did not reserve that a
	// namespace's Services may ask for (none by default).
	UserAddresses []AddressGrant
	NodeSelector  string
	// PublishControlPlane lets nodeip Services publish control-plane
	// nodes (nodeip-publish-control-plane; false by default).
	PublishControlPlane bool
}

// PortRange is an inclusive range of ports of one protocol ("TCP", "UDP"
// or "SCTP", as a Service names them), or of every protocol ("").
type PortRange struct {
	From, To int
	Protocol string
}

// AddressGrant lets the Services of a namespace use an address this
// cluster did not reserve (the cloud config's [load-balancer]
// user-addresses).
type AddressGrant struct {
	// Namespace is a namespace, or "*" for every one.
	Namespace string
	// Address is an address's name or IP, or "*" for every address.
	Address string
}

func (g AddressGrant) String() string { return g.Namespace + "/" + g.Address }

// Allows reports whether the grant lets namespace use the address named
// name, whose IP is ip.
func (g AddressGrant) Allows(namespace, name, ip string) bool {
	return (g.Namespace == "*" || g.Namespace == namespace) &&
		(g.Address == "*" || g.Address == name || g.Address == ip)
}

// Defaults of keys the file leaves out. They never change at run time, so
// they are constants; Parse copies them into each Config it returns.
const (
	// SSH, BGP (Calico, kube-router, MetalLB), etcd, the API server, the
	// kubelet, kube-proxy's health server, the controller manager, this
	// CCM and the scheduler over TCP; VXLAN (IANA 4789; 8472 for the Linux
	// default that flannel and Cilium use), Geneve and WireGuard (51820,
	// 51821 for a second family) over UDP.
	defaultReservedPorts  = "22/tcp,179/tcp,2379-2380/tcp,6443/tcp,10250/tcp,10256-10259/tcp,4789/udp,6081/udp,8472/udp,51820-51821/udp"
	defaultNodePortRange  = "30000-32767" // kube-apiserver's --service-node-port-range default
	defaultNodeIPMaxPorts = 100           // the external mode's cap too

	// The compute client's request rate, burst and retries ([compute-api]).
	defaultQPS        = 20
	defaultBurst      = 40
	defaultMaxRetries = 5
)
