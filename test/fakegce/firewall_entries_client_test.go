package fakegce_test

import (
	"errors"
	"testing"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
)

// A firewall rule's allowed[] and denied[] entries name a protocol (a name
// the API knows, all, or a number from 0 to 255) and, for tcp, udp, sctp
// and all, ports or port ranges from 0 to 65535. Anything else is refused
// with 400 and the field it concerns; a missing protocol is "required".
func TestFirewallEntriesAreRefusedAsTheAPIRefusesThem(t *testing.T) {
	allow := func(protocol string, ports ...string) []*compute.FirewallAllowed {
		return []*compute.FirewallAllowed{{IPProtocol: "tcp"}, {IPProtocol: protocol, Ports: ports}}
	}
	tests := []struct {
		name    string
		allowed []*compute.FirewallAllowed
		denied  []*compute.FirewallDenied
		reason  string // "" for accepted
		message string
	}{
		{name: "every port of tcp and udp, as the default network's internal rule", allowed: []*compute.FirewallAllowed{
			{IPProtocol: "tcp", Ports: []string{"0-65535"}}, {IPProtocol: "udp", Ports: []string{"0-65535"}}, {IPProtocol: "icmp"}}},
		{name: "a protocol number", allowed: allow("47")},
		{name: "a protocol name in upper case", allowed: allow("SCTP", "9899")},
		{name: "all with ports", allowed: allow("all", "80")},
		{name: "an entry without a protocol", allowed: allow("", "80"), reason: "required",
			message: "Required field 'resource.allowed[1].IPProtocol' not specified"},
		{name: "an unknown protocol", allowed: allow("gre"), reason: "invalid",
			message: "Invalid value for field 'resource.allowed[1].IPProtocol': 'gre'. Must be one of tcp, udp, icmp, esp, ah, sctp, ipip, all or a protocol number."},
		{name: "a protocol number above 255", allowed: allow("300"), reason: "invalid",
			message: "Invalid value for field 'resource.allowed[1].IPProtocol': '300'. A protocol number is from 0 to 255."},
		{name: "ports on icmp", allowed: allow("icmp", "80", "443"), reason: "invalid",
			message: "Invalid value for field 'resource.allowed[1].ports': '80,443'. Ports can be given only for tcp, udp and sctp."},
		{name: "a port above 65535, in a deny rule", denied: []*compute.FirewallDenied{{IPProtocol: "udp", Ports: []string{"53", "65536"}}}, reason: "invalid",
			message: "Invalid value for field 'resource.denied[0].ports[1]': '65536'. Must be a port or a range of ports from 0 to 65535 such as 80 or 8000-8080."},
		{name: "a reversed range", allowed: allow("tcp", "90-85"), reason: "invalid",
			message: "Invalid value for field 'resource.allowed[1].ports[0]': '90-85'. Must be a port or a range of ports from 0 to 65535 such as 80 or 8000-8080."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := start(t)
			defaultNetwork(t, c)
			fw := newFirewall("fw")
			fw.Allowed, fw.Denied = tt.allowed, tt.denied
			err := opErr(c)(c.Compute.Firewalls.Insert(c.Project, fw).Do())
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			code, reason := apiError(t, err)
			if code != 400 || reason != tt.reason {
				t.Fatalf("got %d %q (%v), want 400 %q", code, reason, err, tt.reason)
			}
			var ge *googleapi.Error
			errors.As(err, &ge)
			if ge.Message != tt.message || ge.Errors[0].Message != tt.message {
				t.Errorf("message = %q (errors[0] %q), want %q", ge.Message, ge.Errors[0].Message, tt.message)
			}
		})
	}
}
