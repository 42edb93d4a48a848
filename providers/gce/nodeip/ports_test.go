package nodeip

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

func TestReservedPorts(t *testing.T) {
	reserved := testDefaults().ReservedPorts
	tests := []struct {
		name     string
		svc      *v1.Service
		reserved []PortRange // testDefaults' when nil
		wantPort string
		wantOK   bool
	}{
		{name: "an ordinary port is free", svc: newService("s", withPorts(80, 443))},
		{name: "SSH is reserved", svc: newService("s", withPorts(443, 22)), wantPort: "TCP/22", wantOK: true},
		{name: "a port inside a reserved range is reserved", svc: newService("s", withPorts(2380)), wantPort: "TCP/2380", wantOK: true},
		{name: "the port just past a range is free", svc: newService("s", withPorts(2381, 10260))},
		{name: "VXLAN's UDP port (flannel, Cilium) is reserved", svc: newService("s", fixture.Ports(v1.ProtocolUDP, 8472)), wantPort: "UDP/8472", wantOK: true},
		{name: "the IANA VXLAN port is reserved for UDP", svc: newService("s", fixture.Ports(v1.ProtocolUDP, 4789)), wantPort: "UDP/4789", wantOK: true},
		{name: "Geneve's UDP port is reserved", svc: newService("s", fixture.Ports(v1.ProtocolUDP, 6081)), wantPort: "UDP/6081", wantOK: true},
		{name: "WireGuard's UDP port is reserved", svc: newService("s", fixture.Ports(v1.ProtocolUDP, 51820)), wantPort: "UDP/51820", wantOK: true},
		{name: "BGP's TCP port is reserved", svc: newService("s", withPorts(179)), wantPort: "TCP/179", wantOK: true},
		{name: "the CCM's own port is reserved", svc: newService("s", withPorts(10258)), wantPort: "TCP/10258", wantOK: true},
		{name: "a port reserved for UDP is free over TCP", svc: newService("s", withPorts(8472, 4789))},
		{name: "a port reserved for TCP is free over UDP", svc: newService("s", fixture.Ports(v1.ProtocolUDP, 22, 179))},
		{name: "a range without a protocol reserves every protocol", svc: newService("s", fixture.Ports(v1.ProtocolSCTP, 9000)),
			reserved: []PortRange{{From: 9000, To: 9000}}, wantPort: "SCTP/9000", wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := reserved
			if tt.reserved != nil {
				r = tt.reserved
			}
			p, _, ok := reservedPort(portsOf(tt.svc), r)
			if ok != tt.wantOK || (ok && p.String() != tt.wantPort) {
				t.Errorf("reservedPort = %v %v, want %v %v", p, ok, tt.wantPort, tt.wantOK)
			}
		})
	}
}

func TestPortRangeString(t *testing.T) {
	for want, r := range map[string]PortRange{
		"22/TCP":          {From: 22, To: 22, Protocol: v1.ProtocolTCP},
		"51820-51821/UDP": {From: 51820, To: 51821, Protocol: v1.ProtocolUDP},
		"30000-32767":     {From: 30000, To: 32767},
	} {
		if got := r.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", r, got, want)
		}
	}
}

func TestShadowedNodePort(t *testing.T) {
	tcp := func(p int32) protoPort { return protoPort{v1.ProtocolTCP, p} }
	tests := []struct {
		name      string
		ports     []protoPort
		nodePorts map[protoPort][]string
		wantPort  protoPort
		wantOwner string
		wantOK    bool
	}{
		{name: "a port nobody uses as a node port is free", ports: []protoPort{tcp(80)}, nodePorts: map[protoPort][]string{tcp(31000): {"default/np"}}},
		{name: "another Service's NodePort is shadowed", ports: []protoPort{tcp(80), tcp(20500)},
			nodePorts: map[protoPort][]string{tcp(20500): {"default/np"}}, wantPort: tcp(20500), wantOwner: "default/np", wantOK: true},
		{name: "the Service's own NodePort is not in its way", ports: []protoPort{tcp(20500)}, nodePorts: map[protoPort][]string{tcp(20500): {"default/web"}}},
		{name: "a UDP NodePort leaves the TCP port free", ports: []protoPort{tcp(20500)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, owner, ok := shadowedNodePort(tt.ports, tt.nodePorts, "default/web")
			if p != tt.wantPort || owner != tt.wantOwner || ok != tt.wantOK {
				t.Errorf("shadowedNodePort = %v %q %v, want %v %q %v", p, owner, ok, tt.wantPort, tt.wantOwner, tt.wantOK)
			}
		})
	}
}

func TestNodePortsOf(t *testing.T) {
	svc := newService("web", withPorts(80), fixture.Ports(v1.ProtocolUDP, 53), func(s *v1.Service) {
		s.Spec.Ports[0].NodePort = 31000
		s.Spec.Ports[1].NodePort = 31001
		s.Spec.HealthCheckNodePort = 32000
	})
	want := []protoPort{{v1.ProtocolTCP, 31000}, {v1.ProtocolTCP, 32000}, {v1.ProtocolUDP, 31001}}
	if diff := cmp.Diff(want, nodePortsOf(svc)); diff != "" {
		t.Errorf("node ports (-want +got):\n%s", diff)
	}
}

// A hostile claim (30,000 ports on 100 nodes) that wins, and a newer claim
// on one of its ports: the decision must cost memory in proportion to the
// ports plus the nodes, not to their product (3 million node-and-port
// slots, hundreds of MiB).
func TestAClaimOfManyPortsOnManyNodesIsDecidedInLittleMemory(t *testing.T) {
	var nodes []string
	for i := range 100 {
		nodes = append(nodes, fmt.Sprintf("n%03d", i))
	}
	var ports []protoPort
	for p := int32(10260); p <= 40259; p++ {
		ports = append(ports, protoPort{v1.ProtocolTCP, p})
	}
	claims := []claim{
		{Service: "old", UID: "1", Created: epoch, Ports: []protoPort{{v1.ProtocolTCP, 80}}, Nodes: nodes[99:]},
		{Service: "hostile", UID: "2", Created: epoch.Add(time.Minute), Ports: ports, Nodes: nodes},
		{Service: "new", UID: "3", Created: epoch.Add(2 * time.Minute), Ports: ports[:1], Nodes: nodes},
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	losers := resolvePortConflicts(claims)
	runtime.ReadMemStats(&after)
	want := map[string]portConflict{"new": {Winner: "hostile", Port: protoPort{v1.ProtocolTCP, 10260}, Node: "n000"}}
	if diff := cmp.Diff(want, losers); diff != "" {
		t.Errorf("losers (-want +got):\n%s", diff)
	}
	const limit = 8 << 20
	if got := after.TotalAlloc - before.TotalAlloc; got > limit {
		t.Errorf("resolving the claims allocated %d MiB, want at most %d MiB", got>>20, limit>>20)
	}
}

func TestResolvePortConflicts(t *testing.T) {
	tcp80 := protoPort{v1.ProtocolTCP, 80}
	udp80 := protoPort{v1.ProtocolUDP, 80}
	tcp443 := protoPort{v1.ProtocolTCP, 443}
	at := func(minutes int) time.Time { return epoch.Add(time.Duration(minutes) * time.Minute) }
	tests := []struct {
		name   string
		claims []claim
		want   map[string]portConflict
	}{
		{
			name: "different ports on the same nodes do not conflict",
			claims: []claim{
				{Service: "a", UID: "1", Created: at(0), Ports: []protoPort{tcp80}, Nodes: []string{"n1", "n2"}},
				{Service: "b", UID: "2", Created: at(1), Ports: []protoPort{tcp443}, Nodes: []string{"n1", "n2"}},
			},
			want: map[string]portConflict{},
		},
		{
			name: "the same port number over TCP and UDP does not conflict",
			claims: []claim{
				{Service: "a", UID: "1", Created: at(0), Ports: []protoPort{tcp80}, Nodes: []string{"n1"}},
				{Service: "b", UID: "2", Created: at(1), Ports: []protoPort{udp80}, Nodes: []string{"n1"}},
			},
			want: map[string]portConflict{},
		},
		{
			name: "the same port on nodes that do not overlap does not conflict",
			claims: []claim{
				{Service: "a", UID: "1", Created: at(0), Ports: []protoPort{tcp80}, Nodes: []string{"n1"}},
				{Service: "b", UID: "2", Created: at(1), Ports: []protoPort{tcp80}, Nodes: []string{"n2"}},
			},
			want: map[string]portConflict{},
		},
		{
			name: "the older Service keeps a port both publish on a shared node",
			claims: []claim{
				{Service: "new", UID: "1", Created: at(5), Ports: []protoPort{tcp443, tcp80}, Nodes: []string{"n2", "n3"}},
				{Service: "old", UID: "2", Created: at(0), Ports: []protoPort{tcp80}, Nodes: []string{"n1", "n2"}},
			},
			want: map[string]portConflict{"new": {Winner: "old", Port: tcp80, Node: "n2"}},
		},
		{
			name: "between Services created in the same second, the lower UID is the older",
			claims: []claim{
				{Service: "b", UID: "bbb", Created: at(0), Ports: []protoPort{tcp80}, Nodes: []string{"n1"}},
				{Service: "a", UID: "aaa", Created: at(0), Ports: []protoPort{tcp80}, Nodes: []string{"n1"}},
			},
			want: map[string]portConflict{"b": {Winner: "a", Port: tcp80, Node: "n1"}},
		},
		{
			name: "a Service that lost holds nothing, so a newer one that only overlaps it wins",
			claims: []claim{
				{Service: "a", UID: "1", Created: at(0), Ports: []protoPort{tcp80}, Nodes: []string{"n1"}},
				{Service: "b", UID: "2", Created: at(1), Ports: []protoPort{tcp80}, Nodes: []string{"n1", "n2"}},
				{Service: "c", UID: "3", Created: at(2), Ports: []protoPort{tcp80}, Nodes: []string{"n2"}},
			},
			want: map[string]portConflict{"b": {Winner: "a", Port: tcp80, Node: "n1"}},
		},
		{
			name: "a Service with no nodes claims nothing",
			claims: []claim{
				{Service: "a", UID: "1", Created: at(0), Ports: []protoPort{tcp80}},
				{Service: "b", UID: "2", Created: at(1), Ports: []protoPort{tcp80}, Nodes: []string{"n1"}},
			},
			want: map[string]portConflict{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, resolvePortConflicts(tt.claims)); diff != "" {
				t.Errorf("losers (-want +got):\n%s", diff)
			}
		})
	}
}
