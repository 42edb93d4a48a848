package cloudconfig

import (
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/gcfg.v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
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

// Error is a bad cloud config: Key is "[section] key" (or empty when the
// file itself cannot be read), Problem says what is wrong. It reads as one
// line, so that a command can stop with it.
type Error struct {
	Key     string
	Problem string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return "cloud config: " + e.Problem
	}
	return "cloud config: " + e.Key + ": " + e.Problem
}

func bad(section, key, format string, args ...any) *Error {
	return &Error{Key: "[" + section + "] " + key, Problem: fmt.Sprintf(format, args...)}
}

// The patterns a value must match. They are package-level because they
// are compiled once and only ever read (a *regexp.Regexp is safe for
// concurrent use and has no state to change).
var (
	nameRE    = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	projectRE = regexp.MustCompile(`^(([a-z0-9.-]+):)?[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	// projectNumberRE is a project number, which upstream accepts where a
	// project id goes and turns into the id with projects.get
	// (kubernetes/cloud-provider-gcp providers/gce/gce.go, isProjectNumber,
	// tryConvertToProjectNames); gce.New does the same.
	projectNumberRE = regexp.MustCompile(`^[0-9]{1,20}$`)
	zoneRE          = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+-[a-z]$`)
	// instancePrefixRE is the start of an instance name.
	instancePrefixRE = regexp.MustCompile(`^[a-z][-a-z0-9]*$`)
	unknownRE        = regexp.MustCompile(`section "([^"]+)"(?:, variable "([^"]+)")?`)
)

// IsProjectNumber reports whether a project-id or network-project-id is a
// project number, which the provider turns into the project's id.
func IsProjectNumber(s string) bool { return projectNumberRE.MatchString(s) }

// Parse reads and checks a gce.conf. A nil reader gives an empty config
// (values then come from the metadata server). The first problem found is
// returned as an *Error.
func Parse(r io.Reader) (*Config, error) {
	var raw rawConfig
	if r != nil {
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, &Error{Problem: err.Error()}
		}
		if err := gcfg.ReadStringInto(&raw, string(data)); err != nil {
			if fatal := gcfg.FatalOnly(err); fatal != nil {
				return nil, &Error{Problem: "not a valid INI file: " + oneLine(fatal.Error())}
			}
			if m := unknownRE.FindStringSubmatch(err.Error()); m != nil {
				if m[2] == "" {
					return nil, &Error{Key: "[" + m[1] + "]", Problem: "unknown section (known: global, compute-api, load-balancer, cluster)"}
				}
				return nil, bad(m[1], m[2], "unknown key")
			}
			return nil, &Error{Problem: oneLine(err.Error())}
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
		if n.v != "" && !nameRE.MatchString(ownership.LastSegment(n.v)) {
			return nil, bad("global", n.key, "%q is not a resource name or link", n.v)
		}
	}
	for _, tag := range c.NodeTags {
		if !nameRE.MatchString(tag) {
			return nil, bad("global", "node-tags", "%q is not a valid network tag (lowercase letters, digits and hyphens, at most 63)", tag)
		}
	}
	if c.NodeInstancePrefix != "" && !instancePrefixRE.MatchString(c.NodeInstancePrefix) {
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
	c.API = APIConfig{QPS: defaultQPS, Burst: defaultBurst, MaxRetries: defaultMaxRetries}
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
