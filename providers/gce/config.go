package gce

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/gcfg.v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nlb"
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
	// joined it (ownerOf).
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
	UserAddresses []nlb.AddressGrant
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

// Defaults the GCE provider uses too.
var (
	// SSH, BGP (Calico, kube-router, MetalLB), etcd, the API server, the
	// kubelet, kube-proxy's health server, the controller manager, this
	// CCM and the scheduler over TCP; VXLAN (IANA 4789; 8472 for the Linux
	// default that flannel and Cilium use), Geneve and WireGuard (51820,
	// 51821 for a second family) over UDP.
	defaultReservedPorts  = "22/tcp,179/tcp,2379-2380/tcp,6443/tcp,10250/tcp,10256-10259/tcp,4789/udp,6081/udp,8472/udp,51820-51821/udp"
	defaultNodePortRange  = "30000-32767" // kube-apiserver's --service-node-port-range default
	defaultNodeIPMaxPorts = 100           // the external mode's cap too
)

// rawConfig is the file as gcfg reads it: every value a string, so that this
// package (not gcfg) says what is wrong with a value, naming its key.
type rawConfig struct {
	Global struct {
		ProjectID          string   `gcfg:"project-id"`
		NetworkProjectID   string   `gcfg:"network-project-id"`
		NetworkName        string   `gcfg:"network-name"`
		SubnetworkName     string   `gcfg:"subnetwork-name"`
		NodeTags           []string `gcfg:"node-tags"`
		NodeInstancePrefix string   `gcfg:"node-instance-prefix"`
		LocalZone          string   `gcfg:"local-zone"`
		Regional           string   `gcfg:"regional"`
		Multizone          string   `gcfg:"multizone"`
		APIEndpoint        string   `gcfg:"api-endpoint"`
		TokenURL           string   `gcfg:"token-url"`
		TokenBody          string   `gcfg:"token-body"`
		StackType          string   `gcfg:"stack-type"`
		// Upstream's keys that do nothing here (upstreamOnlyKeys).
		AlphaFeatures        []string `gcfg:"alpha-features"`
		SecondaryRangeName   string   `gcfg:"secondary-range-name"`
		ContainerAPIEndpoint string   `gcfg:"container-api-endpoint"`
	}
	API struct {
		QPS              string `gcfg:"qps"`
		Burst            string `gcfg:"burst"`
		MaxRetries       string `gcfg:"max-retries"`
		NoAuthentication string `gcfg:"no-authentication"`
		TokenBodyFile    string `gcfg:"token-body-file"`
	} `gcfg:"compute-api"`
	LoadBalancer struct {
		Mode                    string   `gcfg:"mode"`
		Backend                 string   `gcfg:"backend"`
		HealthCheckSourceRanges []string `gcfg:"health-check-source-ranges"`
		NodeIPAddressType       string   `gcfg:"nodeip-address-type"`
		NodeIPSourceRanges      []string `gcfg:"nodeip-source-ranges"`
		ReservedPorts           string   `gcfg:"nodeip-reserved-ports"`
		NodePortRange           string   `gcfg:"nodeip-node-port-range"`
		NodeIPMaxPorts          string   `gcfg:"nodeip-max-ports"`
		UserAddresses           []string `gcfg:"user-addresses"`
		NodeSelector            string   `gcfg:"nodeip-node-selector"`
		PublishControlPlane     string   `gcfg:"nodeip-publish-control-plane"`
	} `gcfg:"load-balancer"`
	Cluster struct {
		AllowDefaultName  string `gcfg:"allow-default-name"`
		SharedVPCNameOnly string `gcfg:"shared-vpc-name-only"`
	} `gcfg:"cluster"`
}

// ConfigError is a bad cloud config: Key is "[section] key" (or empty when
// the file itself cannot be read), Problem says what is wrong.
type ConfigError struct {
	Key     string
	Problem string
}

func (e *ConfigError) Error() string {
	if e.Key == "" {
		return "cloud config: " + e.Problem
	}
	return "cloud config: " + e.Key + ": " + e.Problem
}

func bad(section, key, format string, args ...any) *ConfigError {
	return &ConfigError{Key: "[" + section + "] " + key, Problem: fmt.Sprintf(format, args...)}
}

var (
	nameRE    = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	projectRE = regexp.MustCompile(`^(([a-z0-9.-]+):)?[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	// projectNumberRE is a project number, which upstream accepts where a
	// project id goes and turns into the id with projects.get
	// (kubernetes/cloud-provider-gcp providers/gce/gce.go, isProjectNumber,
	// tryConvertToProjectNames); New does the same (resolveProjectNumbers).
	projectNumberRE = regexp.MustCompile(`^[0-9]{1,20}$`)
	zoneRE          = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+-[a-z]$`)
	unknownRE       = regexp.MustCompile(`section "([^"]+)"(?:, variable "([^"]+)")?`)
)

// ParseConfig reads and checks a gce.conf. An empty reader gives an empty
// config (values then come from the metadata server). The first problem found
// is returned as a *ConfigError.
func ParseConfig(r io.Reader) (*Config, error) {
	var raw rawConfig
	if r != nil {
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, &ConfigError{Problem: err.Error()}
		}
		if err := gcfg.ReadStringInto(&raw, string(data)); err != nil {
			if fatal := gcfg.FatalOnly(err); fatal != nil {
				return nil, &ConfigError{Problem: "not a valid INI file: " + oneLine(fatal.Error())}
			}
			if m := unknownRE.FindStringSubmatch(err.Error()); m != nil {
				if m[2] == "" {
					return nil, &ConfigError{Key: "[" + m[1] + "]", Problem: "unknown section (known: global, compute-api, load-balancer, cluster)"}
				}
				return nil, bad(m[1], m[2], "unknown key")
			}
			return nil, &ConfigError{Problem: oneLine(err.Error())}
		}
	}
	return raw.validate()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (raw *rawConfig) validate() (*Config, error) {
	g := raw.Global
	c := &Config{
		ProjectID: g.ProjectID, NetworkProjectID: g.NetworkProjectID, NetworkName: g.NetworkName,
		SubnetworkName: g.SubnetworkName, NodeTags: g.NodeTags, NodeInstancePrefix: g.NodeInstancePrefix,
		LocalZone: g.LocalZone, APIEndpoint: g.APIEndpoint, TokenURL: g.TokenURL, TokenBody: g.TokenBody,
	}
	var err error
	if c.Regional, err = parseBool("global", "regional", g.Regional); err != nil {
		return nil, err
	}
	if c.Multizone, err = parseBool("global", "multizone", g.Multizone); err != nil {
		return nil, err
	}
	for _, p := range []struct{ key, v string }{{"project-id", c.ProjectID}, {"network-project-id", c.NetworkProjectID}} {
		if p.v != "" && !projectRE.MatchString(p.v) && !projectNumberRE.MatchString(p.v) {
			return nil, bad("global", p.key, "%q is not a project id (6 to 30 lowercase letters, digits or hyphens, starting with a letter) or project number", p.v)
		}
	}
	switch g.StackType {
	case "", "IPV4", "IPV4_IPV6", "IPV6":
		// Upstream's clusterStack* values (providers/gce/gce.go).
		c.StackType = g.StackType
	default:
		return nil, bad("global", "stack-type", "%q is not a stack type (want IPV4, IPV4_IPV6 or IPV6)", g.StackType)
	}
	c.Ignored = raw.upstreamOnlyKeys()
	for _, n := range []struct{ key, v string }{{"network-name", c.NetworkName}, {"subnetwork-name", c.SubnetworkName}} {
		if n.v != "" && !nameRE.MatchString(lastSegment(n.v)) {
			return nil, bad("global", n.key, "%q is not a resource name or link", n.v)
		}
	}
	for _, tag := range c.NodeTags {
		if !nameRE.MatchString(tag) {
			return nil, bad("global", "node-tags", "%q is not a valid network tag (lowercase letters, digits and hyphens, at most 63)", tag)
		}
	}
	if c.NodeInstancePrefix != "" && !regexp.MustCompile(`^[a-z][-a-z0-9]*$`).MatchString(c.NodeInstancePrefix) {
		return nil, bad("global", "node-instance-prefix", "%q is not the start of an instance name", c.NodeInstancePrefix)
	}
	if c.LocalZone != "" && !zoneRE.MatchString(c.LocalZone) {
		return nil, bad("global", "local-zone", "%q is not a zone name such as us-central1-a", c.LocalZone)
	}
	if err := raw.validateCredentials(c); err != nil {
		return nil, err
	}
	if err := raw.validateAPI(c); err != nil {
		return nil, err
	}
	if err := raw.validateLoadBalancer(c); err != nil {
		return nil, err
	}
	if c.Cluster.AllowDefaultName, err = parseBool("cluster", "allow-default-name", raw.Cluster.AllowDefaultName); err != nil {
		return nil, err
	}
	if c.Cluster.SharedVPCNameOnly, err = parseBool("cluster", "shared-vpc-name-only", raw.Cluster.SharedVPCNameOnly); err != nil {
		return nil, err
	}
	return c, nil
}

// upstreamOnlyKeys are the keys set in the file that the upstream GCE
// provider reads (ConfigGlobal in kubernetes/cloud-provider-gcp
// providers/gce/gce.go) and this one has no use for: alpha-features gates
// upstream's alpha API calls, secondary-range-name its IP alias
// allocation, container-api-endpoint its GKE API client; none of these
// exists here. They are accepted, so that a file written for the upstream
// CCM starts this one, and named so that the provider warns about them.
func (raw *rawConfig) upstreamOnlyKeys() []string {
	g := raw.Global
	var out []string
	for _, k := range []struct {
		key string
		set bool
	}{
		{"alpha-features", len(g.AlphaFeatures) > 0},
		{"container-api-endpoint", g.ContainerAPIEndpoint != ""},
		{"secondary-range-name", g.SecondaryRangeName != ""},
	} {
		if k.set {
			out = append(out, "[global] "+k.key)
		}
	}
	return out
}

func (raw *rawConfig) validateAPI(c *Config) error {
	a := raw.API
	c.API = APIConfig{QPS: 20, Burst: 40, MaxRetries: 5}
	if a.QPS != "" {
		v, err := strconv.ParseFloat(a.QPS, 64)
		if err != nil || v <= 0 {
			return bad("compute-api", "qps", "%q is not a positive number of requests per second", a.QPS)
		}
		c.API.QPS = v
	}
	var err error
	if c.API.Burst, err = wholeNumber("compute-api", "burst", a.Burst, 1, math.MaxInt, c.API.Burst); err != nil {
		return err
	}
	c.API.MaxRetries, err = wholeNumber("compute-api", "max-retries", a.MaxRetries, 0, 20, c.API.MaxRetries)
	return err
}

// wholeNumber reads key's value, an integer from lo to hi (no upper bound
// when hi is math.MaxInt), or def when the key is left out.
func wholeNumber(section, key, value string, lo, hi, def int) (int, error) {
	if value == "" {
		return def, nil
	}
	v, err := strconv.Atoi(value)
	if err == nil && v >= lo && v <= hi {
		return v, nil
	}
	if hi == math.MaxInt {
		return 0, bad(section, key, "%q is not a whole number of at least %d", value, lo)
	}
	return 0, bad(section, key, "%q is not a whole number from %d to %d", value, lo, hi)
}

func (raw *rawConfig) validateLoadBalancer(c *Config) error {
	lb := raw.LoadBalancer
	c.LoadBalancer.Mode = ModeExternal
	switch strings.ToLower(lb.Mode) {
	case "", ModeExternal:
	case ModeNodeIP:
		c.LoadBalancer.Mode = ModeNodeIP
	default:
		return bad("load-balancer", "mode", "%q is not a mode (want external or nodeip)", lb.Mode)
	}
	switch strings.ToLower(lb.Backend) {
	case "target-pool":
		c.LoadBalancer.Backend = "target-pool"
	case "", "backend-service":
		c.LoadBalancer.Backend = "backend-service"
	default:
		return bad("load-balancer", "backend", "%q is not a backend (want target-pool or backend-service)", lb.Backend)
	}
	// Unset, the load balancers open to GCE's checkers of their own scheme
	// (nlb's checkerRanges); set, a family's ranges replace those.
	var err error
	if c.LoadBalancer.HealthCheckSourceRanges, err = parsePrefixes("health-check-source-ranges", lb.HealthCheckSourceRanges); err != nil {
		return err
	}
	if len(c.LoadBalancer.HealthCheckSourceRanges) > 0 && !slices.ContainsFunc(c.LoadBalancer.HealthCheckSourceRanges, func(p netip.Prefix) bool { return p.Addr().Is4() }) {
		// A firewall rule holds one family: IPv6 ranges open the IPv6
		// health-check rule, and the IPv4 rule needs sources of its own.
		return bad("load-balancer", "health-check-source-ranges", "has no IPv4 range (IPv6 ranges only replace the IPv6 health checkers' ranges)")
	}
	ranges := lb.NodeIPSourceRanges
	if len(ranges) == 0 {
		ranges = []string{"0.0.0.0/0"}
	}
	if c.LoadBalancer.NodeIPSourceRanges, err = parsePrefixes("nodeip-source-ranges", ranges); err != nil {
		return err
	}
	switch lb.NodeIPAddressType {
	case "", "InternalIP":
		c.LoadBalancer.NodeIPAddressType = "InternalIP"
	case "ExternalIP":
		c.LoadBalancer.NodeIPAddressType = "ExternalIP"
	default:
		return bad("load-balancer", "nodeip-address-type", "%q is not an address type (want InternalIP or ExternalIP)", lb.NodeIPAddressType)
	}
	ports := cmp.Or(lb.ReservedPorts, defaultReservedPorts)
	if c.LoadBalancer.ReservedPorts, err = parsePortList(ports); err != nil {
		return bad("load-balancer", "nodeip-reserved-ports", "%v", err)
	}
	nodePorts := cmp.Or(lb.NodePortRange, defaultNodePortRange)
	if r, err := parsePortList(nodePorts); err != nil || len(r) != 1 || r[0].From == r[0].To || r[0].Protocol != "" {
		return bad("load-balancer", "nodeip-node-port-range", "%q is not a port range such as 30000-32767", nodePorts)
	} else {
		c.LoadBalancer.NodePortRange = r[0]
	}
	// The ceiling bounds a decision's work and a firewall rule's size.
	if c.LoadBalancer.NodeIPMaxPorts, err = wholeNumber("load-balancer", "nodeip-max-ports", lb.NodeIPMaxPorts, 1, 1000, defaultNodeIPMaxPorts); err != nil {
		return err
	}
	if c.LoadBalancer.UserAddresses, err = parseAddressGrants(lb.UserAddresses); err != nil {
		return err
	}
	if _, err := labels.Parse(lb.NodeSelector); err != nil {
		return bad("load-balancer", "nodeip-node-selector", "%q is not a label selector such as pool=edge,zone!=us-central1-c", lb.NodeSelector)
	}
	c.LoadBalancer.NodeSelector = lb.NodeSelector
	if c.LoadBalancer.PublishControlPlane, err = parseBool("load-balancer", "nodeip-publish-control-plane", lb.PublishControlPlane); err != nil {
		return err
	}
	return nil
}

// parseAddressGrants reads user-addresses: "namespace/address" entries,
// comma-separated or one a line, where the namespace may be * (every
// namespace) and the address is a name, an IP or * (every address).
func parseAddressGrants(vs []string) ([]nlb.AddressGrant, error) {
	var out []nlb.AddressGrant
	for _, v := range vs {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			ns, addr, ok := strings.Cut(s, "/")
			_, ipErr := netip.ParseAddr(addr)
			if !ok || (ns != "*" && len(validation.IsDNS1123Label(ns)) > 0) ||
				(addr != "*" && ipErr != nil && !nameRE.MatchString(addr)) {
				return nil, bad("load-balancer", "user-addresses",
					"%q is not namespace/address (a namespace or *, then an address name, an IP or *)", s)
			}
			out = append(out, nlb.AddressGrant{Namespace: ns, Address: addr})
		}
	}
	return out, nil
}

func parseBool(section, key, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "":
		return false, nil
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, bad(section, key, "%q is not a boolean (want true or false)", v)
}

func parsePrefixes(key string, vs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range vs {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, bad("load-balancer", key, "%q is not a CIDR range such as 10.0.0.0/8", s)
			}
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// parsePortList reads "22/tcp,2379-2380/tcp,8472/udp,9000": a port or a
// range, then the protocol it is reserved for (none: every protocol).
func parsePortList(s string) ([]PortRange, error) {
	var out []PortRange
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ports, proto, hasProto := strings.Cut(part, "/")
		r := PortRange{}
		if hasProto {
			switch p := strings.ToUpper(strings.TrimSpace(proto)); p {
			case "TCP", "UDP", "SCTP":
				r.Protocol = p
			default:
				return nil, fmt.Errorf("%q names no protocol a Service has (want tcp, udp or sctp)", part)
			}
		}
		a, b, isRange := strings.Cut(strings.TrimSpace(ports), "-")
		from, err1 := strconv.Atoi(a)
		to := from
		var err2 error
		if isRange {
			to, err2 = strconv.Atoi(b)
		}
		if err1 != nil || err2 != nil || from < 1 || to > 65535 || from > to {
			return nil, fmt.Errorf("%q is not a port or a port range such as 2379-2380/tcp", part)
		}
		r.From, r.To = from, to
		out = append(out, r)
	}
	return out, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New(strconv.Quote(s) + " is not an http(s) URL")
	}
	return nil
}

func lastSegment(s string) string {
	if i := strings.LastIndexByte(strings.TrimRight(s, "/"), '/'); i >= 0 {
		return strings.TrimRight(s, "/")[i+1:]
	}
	return s
}
