package filter

import (
	"encoding/json"
	"strings"
	"testing"
)

// decodeResource decodes JSON the way the fake server stores resources.
func decodeResource(t testing.TB, text string) map[string]any {
	t.Helper()
	decoder := json.NewDecoder(strings.NewReader(text))
	decoder.UseNumber()
	var resource map[string]any
	if err := decoder.Decode(&resource); err != nil {
		t.Fatalf("decode fixture: %v", err)
	}
	return resource
}

// instanceJSON is a compute#instance with the fields the tests filter on.
const instanceJSON = `{
  "kind": "compute#instance",
  "id": "7752282213453434523",
  "creationTimestamp": "2024-03-05T10:20:30.123-08:00",
  "name": "k8s-node-1",
  "description": "",
  "status": "RUNNING",
  "zone": "https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-a",
  "cpuPlatform": "Intel Skylake",
  "canIpForward": false,
  "labels": {"env": "prod", "team": "net-ops", "tier": "1"},
  "tags": {"items": ["k8s-node", "http-server"], "fingerprint": "abc="},
  "networkInterfaces": [
    {
      "name": "nic0",
      "network": "https://www.googleapis.com/compute/v1/projects/p/global/networks/default",
      "networkIP": "10.0.0.2",
      "accessConfigs": [{"name": "External NAT", "natIP": "34.1.2.3"}]
    },
    {"name": "nic1", "networkIP": "10.1.0.2"}
  ],
  "scheduling": {"automaticRestart": true, "onHostMaintenance": "MIGRATE", "preemptible": false},
  "disks": [{"diskSizeGb": "100", "boot": true}, {"diskSizeGb": "2000", "boot": false}],
  "shieldedInstanceConfig": null
}`

// firewallJSON is a compute#firewall like those the load balancer creates.
const firewallJSON = `{
  "kind": "compute#firewall",
  "id": "18446744073709551615",
  "creationTimestamp": "2023-12-31T23:59:59.000-08:00",
  "name": "k8s-fw-a1b2c3",
  "network": "https://www.googleapis.com/compute/v1/projects/p/global/networks/default",
  "priority": 1000,
  "direction": "INGRESS",
  "sourceRanges": ["0.0.0.0/0"],
  "targetTags": ["k8s-node"],
  "allowed": [{"IPProtocol": "tcp", "ports": ["80", "443"]}],
  "disabled": false,
  "weight": 0.5
}`

// matchCase is one row of a table of filters matched against a fixture.
type matchCase struct {
	name   string
	filter string
	want   bool
}

func runMatchCases(t *testing.T, resourceJSON string, cases []matchCase) {
	t.Helper()
	resource := decodeResource(t, resourceJSON)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.filter)
			if err != nil {
				t.Fatalf("Parse(%q) returned error: %v", tc.filter, err)
			}
			if got := f.Match(resource); got != tc.want {
				t.Errorf("Parse(%q).Match() = %v, want %v", tc.filter, got, tc.want)
			}
		})
	}
}
