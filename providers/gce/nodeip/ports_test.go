package nodeip

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
)

func TestReservedPorts(t *testing.T) {
	reserved := testDefaults().ReservedPorts
	tests := []struct {
		name     string
		svc      *v1.Service
		wantPort string
		wantOK   bool
	}{
		{"an ordinary port is free", newService("s", withPorts(80, 443)), "", false},
		{"SSH is reserved", newService("s", withPorts(443, 22)), "TCP/22", true},
		{"a port inside a reserved range is reserved", newService("s", withPorts(2380)), "TCP/2380", true},
		{"a reserved port is reserved for UDP too", newService("s", withProtocolPorts(v1.ProtocolUDP, 10250)), "UDP/10250", true},
		{"the port just past a range is free", newService("s", withPorts(2381, 10258)), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, ok := reservedPort(portsOf(tt.svc), reserved)
			if ok != tt.wantOK || (ok && p.String() != tt.wantPort) {
				t.Errorf("reservedPort = %v %v, want %v %v", p, ok, tt.wantPort, tt.wantOK)
			}
		})
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
