package cloudconfig

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseConfigRejectsBadFilesNamingTheKey(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string
	}{
		{name: "an unknown key", file: "[global]\nproject = p\n", want: `cloud config: [global] project: unknown key`},
		{name: "an unknown section", file: "[lb]\nmode = nodeip\n", want: `cloud config: [lb]: unknown section (known: global, compute-api, load-balancer, cluster)`},
		{name: "a file that is not INI", file: "[global\n", want: `cloud config: not a valid INI file: 1:8: expected subsection name or right bracket`},
		{name: "a bad boolean", file: "[global]\nregional = maybe\n", want: `cloud config: [global] regional: "maybe" is not a boolean (want true or false)`},
		{name: "a bad project id", file: "[global]\nproject-id = My_Project\n", want: `cloud config: [global] project-id: "My_Project" is not a project id (6 to 30 lowercase letters, digits or hyphens, starting with a letter) or project number`},
		{name: "a project number with a letter", file: "[global]\nnetwork-project-id = 12345678901x\n", want: `cloud config: [global] network-project-id: "12345678901x" is not a project id (6 to 30 lowercase letters, digits or hyphens, starting with a letter) or project number`},
		{name: "a stack type upstream does not know", file: "[global]\nstack-type = dual\n", want: `cloud config: [global] stack-type: "dual" is not a stack type (want IPV4, IPV4_IPV6 or IPV6)`},
		{name: "a key neither this provider nor upstream knows", file: "[global]\nnode-tag = k8s-node\n", want: `cloud config: [global] node-tag: unknown key`},
		{name: "a bad network name", file: "[global]\nnetwork-name = Net!\n", want: `cloud config: [global] network-name: "Net!" is not a resource name or link`},
		{name: "a bad node tag", file: "[global]\nnode-tags = ok\nnode-tags = Not_OK\n", want: `cloud config: [global] node-tags: "Not_OK" is not a valid network tag (lowercase letters, digits and hyphens, at most 63)`},
		{name: "a bad zone", file: "[global]\nlocal-zone = central\n", want: `cloud config: [global] local-zone: "central" is not a zone name such as us-central1-a`},
		{name: "a relative api endpoint", file: "[global]\napi-endpoint = localhost:8085\n", want: `cloud config: [global] api-endpoint: "localhost:8085" is not an http(s) URL`},
		{name: "a bad token url", file: "[global]\ntoken-url = ftp://x\n", want: `cloud config: [global] token-url: "ftp://x" is not an http(s) URL (or "nil" for Application Default Credentials)`},
		{name: "a token body without a token url", file: "[global]\ntoken-body = {}\n", want: `cloud config: [global] token-body: is set but token-url is not`},
		{name: "a zero qps", file: "[compute-api]\nqps = 0\n", want: `cloud config: [compute-api] qps: "0" is not a positive number of requests per second`},
		{name: "a bad burst", file: "[compute-api]\nburst = many\n", want: `cloud config: [compute-api] burst: "many" is not a whole number of at least 1`},
		{name: "too many retries", file: "[compute-api]\nmax-retries = 99\n", want: `cloud config: [compute-api] max-retries: "99" is not a whole number from 0 to 20`},
		{name: "an unknown backend", file: "[load-balancer]\nbackend = pool\n", want: `cloud config: [load-balancer] backend: "pool" is not a backend (want target-pool or backend-service)`},
		{name: "an unknown mode", file: "[load-balancer]\nmode = internal\n", want: `cloud config: [load-balancer] mode: "internal" is not a mode (want external or nodeip)`},
		{name: "health-check ranges without an IPv4 one", file: "[load-balancer]\nhealth-check-source-ranges = 2600:2d00:1:1::/64\n", want: `cloud config: [load-balancer] health-check-source-ranges: has no IPv4 range (IPv6 ranges only replace the IPv6 health checkers' ranges)`},
		{name: "a bad health-check range", file: "[load-balancer]\nhealth-check-source-ranges = 35.191.0.0\n", want: `cloud config: [load-balancer] health-check-source-ranges: "35.191.0.0" is not a CIDR range such as 10.0.0.0/8`},
		{name: "a bad address type", file: "[load-balancer]\nnodeip-address-type = Hostname\n", want: `cloud config: [load-balancer] nodeip-address-type: "Hostname" is not an address type (want InternalIP or ExternalIP)`},
		{name: "a bad node selector", file: "[load-balancer]\nnodeip-node-selector = pool in edge\n", want: `cloud config: [load-balancer] nodeip-node-selector: "pool in edge" is not a label selector such as pool=edge,zone!=us-central1-c`},
		{name: "a bad control-plane switch", file: "[load-balancer]\nnodeip-publish-control-plane = sometimes\n", want: `cloud config: [load-balancer] nodeip-publish-control-plane: "sometimes" is not a boolean (want true or false)`},
		{name: "a user address without its namespace", file: "[load-balancer]\nuser-addresses = team-a/web-ip, web-ip\n",
			want: `cloud config: [load-balancer] user-addresses: "web-ip" is not namespace/address (a namespace or *, then an address name, an IP or *)`},
		{name: "a reversed port range", file: "[load-balancer]\nnodeip-reserved-ports = 22,2380-2379\n", want: `cloud config: [load-balancer] nodeip-reserved-ports: "2380-2379" is not a port or a port range such as 2379-2380/tcp`},
		{name: "a reserved port of an unknown protocol", file: "[load-balancer]\nnodeip-reserved-ports = 8472/vxlan\n", want: `cloud config: [load-balancer] nodeip-reserved-ports: "8472/vxlan" names no protocol a Service has (want tcp, udp or sctp)`},
		{name: "a NodePort range that is one port", file: "[load-balancer]\nnodeip-node-port-range = 30000\n", want: `cloud config: [load-balancer] nodeip-node-port-range: "30000" is not a port range such as 30000-32767`},
		{name: "a NodePort range with a protocol", file: "[load-balancer]\nnodeip-node-port-range = 30000-32767/tcp\n", want: `cloud config: [load-balancer] nodeip-node-port-range: "30000-32767/tcp" is not a port range such as 30000-32767`},
		{name: "a bad shared-vpc-name-only", file: "[cluster]\nshared-vpc-name-only = legacy\n", want: `cloud config: [cluster] shared-vpc-name-only: "legacy" is not a boolean (want true or false)`},
		{name: "a port cap of zero", file: "[load-balancer]\nnodeip-max-ports = 0\n", want: `cloud config: [load-balancer] nodeip-max-ports: "0" is not a whole number from 1 to 1000`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.file))
			if err == nil {
				t.Fatalf("Parse accepted %q", tt.file)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q\nwant    %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}

func TestParseConfigReadsGoodFiles(t *testing.T) {
	defaults := LoadBalancerConfig{
		Mode: ModeExternal, Backend: "backend-service",
		NodeIPAddressType:  "InternalIP",
		NodeIPSourceRanges: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")},
		ReservedPorts: []PortRange{{22, 22, "TCP"}, {179, 179, "TCP"}, {2379, 2380, "TCP"}, {6443, 6443, "TCP"}, {10250, 10250, "TCP"},
			{10256, 10259, "TCP"}, {4789, 4789, "UDP"}, {6081, 6081, "UDP"}, {8472, 8472, "UDP"}, {51820, 51821, "UDP"}},
		NodePortRange: PortRange{From: 30000, To: 32767}, NodeIPMaxPorts: 100,
	}
	tests := []struct {
		name string
		file string
		want Config
	}{
		{name: "an empty file takes every default", file: "",
			want: Config{API: APIConfig{QPS: 20, Burst: 40, MaxRetries: 5}, LoadBalancer: defaults}},
		{name: "a GCE gce.conf with several node tags", file: `[global]
project-id = my-project
network-project-id = host-project
network-name = vpc
subnetwork-name = nodes
node-tags = k8s-node
node-tags = workers
node-instance-prefix = gke-
local-zone = us-central1-a
regional = true
multizone = false
api-endpoint = http://127.0.0.1:8085/compute/v1/
token-url = nil
`, want: Config{ProjectID: "my-project", NetworkProjectID: "host-project", NetworkName: "vpc", SubnetworkName: "nodes",
			NodeTags: []string{"k8s-node", "workers"}, NodeInstancePrefix: "gke-", LocalZone: "us-central1-a", Regional: true,
			APIEndpoint: "http://127.0.0.1:8085/compute/v1/", TokenURL: "nil",
			API: APIConfig{QPS: 20, Burst: 40, MaxRetries: 5}, LoadBalancer: defaults}},
		{name: "this project's sections", file: `[compute-api]
qps = 5.5
burst = 10
max-retries = 0
[load-balancer]
mode = NodeIP
backend = target-pool
health-check-source-ranges = 10.0.0.0/8, 192.168.0.1/16
nodeip-address-type = ExternalIP
nodeip-source-ranges = 203.0.113.0/24
nodeip-reserved-ports = 22/tcp, 9000-9100
nodeip-node-port-range = 20000-22767
nodeip-max-ports = 20
nodeip-node-selector = role=edge
nodeip-publish-control-plane = true
`, want: Config{API: APIConfig{QPS: 5.5, Burst: 10, MaxRetries: 0}, LoadBalancer: LoadBalancerConfig{
			Mode: ModeNodeIP, Backend: "target-pool",
			HealthCheckSourceRanges: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16")},
			NodeIPAddressType:       "ExternalIP", NodeIPSourceRanges: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
			ReservedPorts: []PortRange{{22, 22, "TCP"}, {9000, 9100, ""}}, NodePortRange: PortRange{From: 20000, To: 22767}, NodeIPMaxPorts: 20,
			NodeSelector: "role=edge", PublishControlPlane: true}}},
		{name: "user addresses granted to namespaces", file: "[load-balancer]\nuser-addresses = team-a/web-ip, team-a/203.0.113.10\nuser-addresses = edge/*\n",
			want: Config{API: APIConfig{QPS: 20, Burst: 40, MaxRetries: 5}, LoadBalancer: func() LoadBalancerConfig {
				lb := defaults
				lb.UserAddresses = []AddressGrant{{Namespace: "team-a", Address: "web-ip"}, {Namespace: "team-a", Address: "203.0.113.10"},
					{Namespace: "edge", Address: "*"}}
				return lb
			}()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, *got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// Every [global] key of the upstream GCE provider's ConfigGlobal
// (kubernetes/cloud-provider-gcp providers/gce/gce.go) is accepted, so that a
// gce.conf that starts the upstream CCM starts this one: those that do
// nothing here are named in Ignored (the provider warns once for each).
func TestParseConfigAcceptsTheUpstreamKeys(t *testing.T) {
	tests := []struct {
		name        string
		file        string
		wantIgnored []string
		check       func(c *Config) string
	}{
		{name: "alpha-features is accepted and does nothing", file: "[global]\nalpha-features = ILBSubsets\nalpha-features = NetLB\n",
			wantIgnored: []string{"[global] alpha-features"}},
		{name: "secondary-range-name is accepted and does nothing", file: "[global]\nsecondary-range-name = pods\n",
			wantIgnored: []string{"[global] secondary-range-name"}},
		{name: "container-api-endpoint is accepted and does nothing", file: "[global]\ncontainer-api-endpoint = https://container.example.com/\n",
			wantIgnored: []string{"[global] container-api-endpoint"}},
		{name: "stack-type IPV6 is used: IPv6 node addresses come first", file: "[global]\nstack-type = IPV6\n",
			check: func(c *Config) string { return cmp.Diff("IPV6", c.StackType) }},
		{name: "stack-type IPV4_IPV6 is accepted", file: "[global]\nstack-type = IPV4_IPV6\n",
			check: func(c *Config) string { return cmp.Diff("IPV4_IPV6", c.StackType) }},
		{name: "a numeric project-id and network-project-id are accepted (the provider reads their ids)",
			file: "[global]\nproject-id = 123456789012\nnetwork-project-id = 210987654321\n",
			check: func(c *Config) string {
				return cmp.Diff([]string{"123456789012", "210987654321"}, []string{c.ProjectID, c.NetworkProjectID})
			}},
		{name: "every upstream key at once, none of them twice in the warnings",
			file: "[global]\nalpha-features = A\nsecondary-range-name = pods\ncontainer-api-endpoint = https://c.example.com/\nstack-type = IPV4\n" +
				"node-instance-prefix = kubernetes-minion\n",
			wantIgnored: []string{"[global] alpha-features", "[global] container-api-endpoint", "[global] secondary-range-name"},
			check:       func(c *Config) string { return cmp.Diff("kubernetes-minion", c.NodeInstancePrefix) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantIgnored, got.Ignored); diff != "" {
				t.Errorf("Ignored (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				if diff := tt.check(got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
}
