package fakegce_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
)

// A firewall rule is of one IP family: the compute API refuses one whose
// source and destination ranges mix IPv4 and IPv6 with 400 invalid, naming
// the first range of the other family. A dual-stack service needs a rule
// per family.
func TestAFirewallRuleMixingIPv4AndIPv6Is400Invalid(t *testing.T) {
	withDestinations := func(r ...string) func(*compute.Firewall) {
		return func(fw *compute.Firewall) { fw.DestinationRanges = r }
	}
	v4 := func(t *testing.T, c *fakegcetest.Cloud) {
		insertFirewall(t, c, newFirewall("fw", withSourceRanges("0.0.0.0/0"), withDestinations("10.0.0.1/32")))
	}
	tests := []struct {
		name      string
		setup     func(t *testing.T, c *fakegcetest.Cloud)
		do        func(c *fakegcetest.Cloud) error
		wantField string // "" for no error
	}{
		{
			name: "an insert with IPv4 and IPv6 source ranges is refused at the first IPv6 one",
			do: func(c *fakegcetest.Cloud) error {
				return opErr(c)(c.Compute.Firewalls.Insert(c.Project, newFirewall("fw", withSourceRanges("0.0.0.0/0", "::/0"))).Do())
			},
			wantField: "'resource.sourceRanges[1]': '::/0'",
		},
		{
			name: "an insert from IPv4 sources to an IPv6 destination is refused at the destination",
			do: func(c *fakegcetest.Cloud) error {
				return opErr(c)(c.Compute.Firewalls.Insert(c.Project, newFirewall("fw", withSourceRanges("203.0.113.0/24"),
					withDestinations("fd00::1/128"))).Do())
			},
			wantField: "'resource.destinationRanges[0]': 'fd00::1/128'",
		},
		{
			name: "an insert whose destinations mix the families is refused, a single address counting as a range",
			do: func(c *fakegcetest.Cloud) error {
				return opErr(c)(c.Compute.Firewalls.Insert(c.Project, newFirewall("fw", withSourceRanges("::/0"),
					withDestinations("fd00::1/128", "10.0.0.1"))).Do())
			},
			wantField: "'resource.destinationRanges[1]': '10.0.0.1'",
		},
		{
			name:  "a patch that adds an IPv6 source to an IPv4 rule is refused",
			setup: v4,
			do: func(c *fakegcetest.Cloud) error {
				return opErr(c)(c.Compute.Firewalls.Patch(c.Project, "fw", &compute.Firewall{SourceRanges: []string{"203.0.113.0/24", "2001:db8::/32"}}).Do())
			},
			wantField: "'resource.sourceRanges[1]': '2001:db8::/32'",
		},
		{
			name:  "a patch that changes only the sources of an IPv4 rule to IPv6 is refused at its IPv4 destination",
			setup: v4,
			do: func(c *fakegcetest.Cloud) error {
				return opErr(c)(c.Compute.Firewalls.Patch(c.Project, "fw", &compute.Firewall{SourceRanges: []string{"::/0"}}).Do())
			},
			wantField: "'resource.destinationRanges[0]': '10.0.0.1/32'",
		},
		{
			name:  "an update that mixes the families is refused",
			setup: v4,
			do: func(c *fakegcetest.Cloud) error {
				return opErr(c)(c.Compute.Firewalls.Update(c.Project, "fw", newFirewall("fw", withSourceRanges("0.0.0.0/0"),
					withDestinations("10.0.0.1/32", "fd00::1/128"))).Do())
			},
			wantField: "'resource.destinationRanges[1]': 'fd00::1/128'",
		},
		{
			name: "an IPv6 rule is accepted",
			do: func(c *fakegcetest.Cloud) error {
				return opErr(c)(c.Compute.Firewalls.Insert(c.Project, newFirewall("fw", withSourceRanges("::/0"), withDestinations("fd00::1/128", "fd00::2/128"))).Do())
			},
		},
		{
			name:  "a patch that moves a whole rule to IPv6 is accepted",
			setup: v4,
			do: func(c *fakegcetest.Cloud) error {
				return opErr(c)(c.Compute.Firewalls.Patch(c.Project, "fw", &compute.Firewall{SourceRanges: []string{"::/0"}, DestinationRanges: []string{"fd00::1/128"}}).Do())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := start(t)
			defaultNetwork(t, c)
			if tt.setup != nil {
				tt.setup(t, c)
			}
			err := tt.do(c)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			code, reason := apiError(t, err)
			if code != 400 || reason != "invalid" {
				t.Fatalf("got %d %q (%v), want 400 \"invalid\"", code, reason, err)
			}
			var ge *googleapi.Error
			errors.As(err, &ge)
			want := "Invalid value for field " + tt.wantField + ". IPv4 and IPv6 ranges cannot be mixed in one firewall rule."
			if ge.Message != want || ge.Errors[0].Message != want {
				t.Errorf("message = %q (errors[0] %q), want %q", ge.Message, ge.Errors[0].Message, want)
			}
			if tt.setup != nil {
				fw, err := c.Compute.Firewalls.Get(c.Project, "fw").Do()
				if err != nil || strings.Join(fw.SourceRanges, ",") != "0.0.0.0/0" || strings.Join(fw.DestinationRanges, ",") != "10.0.0.1/32" {
					t.Errorf("after the refused change the rule is %+v (%v), want it as it was", fw, err)
				}
			}
		})
	}
}

// An ingress rule that names no source range gets the whole address space
// of the family of its destinations, so that it stays of one family.
func TestAFirewallRuleWithoutSourcesIsOpenToItsDestinationsFamily(t *testing.T) {
	tests := []struct {
		name         string
		destinations []string
		want         []string
	}{
		{name: "a rule without destinations is open to all of IPv4", want: []string{"0.0.0.0/0"}},
		{name: "a rule to IPv4 destinations is open to all of IPv4", destinations: []string{"10.0.0.1/32"}, want: []string{"0.0.0.0/0"}},
		{name: "a rule to IPv6 destinations is open to all of IPv6", destinations: []string{"fd00::1/128"}, want: []string{"::/0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := start(t)
			defaultNetwork(t, c)
			insertFirewall(t, c, newFirewall("fw", func(fw *compute.Firewall) { fw.DestinationRanges = tt.destinations }))
			fw, err := c.Compute.Firewalls.Get(c.Project, "fw").Do()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, fw.SourceRanges); diff != "" {
				t.Errorf("source ranges (-want +got):\n%s", diff)
			}
		})
	}
}
