package fakegce_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
)

func TestListsPageWithMaxResultsAndPageToken(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	var want []string
	for i := 0; i < 23; i++ {
		name := fmt.Sprintf("fw-%02d", i)
		insertFirewall(t, c, newFirewall(name))
		want = append(want, name)
	}
	var got []string
	pages := 0
	err := c.Compute.Firewalls.List(c.Project).MaxResults(5).Pages(context.Background(), func(l *compute.FirewallList) error {
		pages++
		if len(l.Items) > 5 {
			t.Errorf("page %d has %d items, want at most 5", pages, len(l.Items))
		}
		got = append(got, firewallNames(l.Items)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names over all pages (-want +got):\n%s", diff)
	}
	if pages != 5 {
		t.Errorf("pages = %d, want 5 for 23 items of 5", pages)
	}
	last, err := c.Compute.Firewalls.List(c.Project).MaxResults(23).Do()
	if err != nil || last.NextPageToken != "" {
		t.Errorf("a page holding everything has nextPageToken %q (%v), want none", last.NextPageToken, err)
	}
	_, err = c.Compute.Firewalls.List(c.Project).PageToken("not-a-token").Do()
	if code, _ := apiError(t, err); code != 400 {
		t.Errorf("a page token the server did not issue = %d, want 400", code)
	}
}

func TestListsOrderByNameOrNewestFirst(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	for _, n := range []string{"b", "c", "a"} {
		insertFirewall(t, c, newFirewall(n))
		time.Sleep(3 * time.Millisecond) // creationTimestamp has millisecond resolution
	}
	for _, tt := range []struct {
		name, orderBy string
		want          []string
	}{
		{"the default order is by name", "", []string{"a", "b", "c"}},
		{"orderBy name sorts by name", "name", []string{"a", "b", "c"}},
		{"orderBy creationTimestamp desc puts the newest first", "creationTimestamp desc", []string{"a", "c", "b"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			call := c.Compute.Firewalls.List(c.Project)
			if tt.orderBy != "" {
				call = call.OrderBy(tt.orderBy)
			}
			l, err := call.Do()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, firewallNames(l.Items)); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	}
	_, err := c.Compute.Firewalls.List(c.Project).OrderBy("priority").Do()
	if code, _ := apiError(t, err); code != 400 {
		t.Errorf("an unsupported orderBy = %d, want 400", code)
	}
}

func TestListsFilterInBothDialects(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	insertFirewall(t, c, newFirewall("k8s-fw-a", withTargetTags("web"), withDescription("keep")))
	insertFirewall(t, c, newFirewall("k8s-fw-b", withTargetTags("db")))
	insertFirewall(t, c, newFirewall("k8s-hc", withTargetTags("web")))
	insertFirewall(t, c, newFirewall("other", withDescription("keep")))
	tests := []struct {
		name, filter string
		want         []string
	}{
		{"a regular expression must match the whole name", "name eq k8s-.*", []string{"k8s-fw-a", "k8s-fw-b", "k8s-hc"}},
		{"ne negates a regular expression", "name ne k8s-.*", []string{"other"}},
		{"an alternation in parentheses matches any of several names", "name eq (k8s-hc|other)", []string{"k8s-hc", "other"}},
		{"a regular expression matches a whole link", `network eq .*/global/networks/default`, []string{"k8s-fw-a", "k8s-fw-b", "k8s-hc", "other"}},
		{"parenthesised regular-expression terms are ANDed", `(name eq k8s-.*) (description ne "keep")`, []string{"k8s-fw-b", "k8s-hc"}},
		{"an AIP-160 equality matches one name", `name = "k8s-hc"`, []string{"k8s-hc"}},
		{"an AIP-160 inequality leaves one name out", `name != "k8s-hc"`, []string{"k8s-fw-a", "k8s-fw-b", "other"}},
		{"the has operator finds an element of a list", `targetTags:web`, []string{"k8s-fw-a", "k8s-hc"}},
		{"AND joins restrictions", `targetTags:web AND description = "keep"`, []string{"k8s-fw-a"}},
		{"OR joins alternatives", `name = "other" OR name = "k8s-fw-b"`, []string{"k8s-fw-b", "other"}},
		{"a wildcard matches a run of characters", `name = "k8s-fw-*"`, []string{"k8s-fw-a", "k8s-fw-b"}},
		{"numbers compare as numbers", `priority >= 1000`, []string{"k8s-fw-a", "k8s-fw-b", "k8s-hc", "other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := c.Compute.Firewalls.List(c.Project).Filter(tt.filter).Do()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, firewallNames(l.Items)); diff != "" {
				t.Errorf("filter %s (-want +got):\n%s", tt.filter, diff)
			}
		})
	}
	t.Run("labels.KEY = VALUE filters on a label", func(t *testing.T) {
		for _, a := range []struct{ name, owner string }{{"a1", "ccm"}, {"a2", "terraform"}, {"a3", ""}} {
			addr := &compute.Address{Name: a.name}
			if a.owner != "" {
				addr.Labels = map[string]string{"owner": a.owner}
			}
			wait(t, c)(c.Compute.Addresses.Insert(c.Project, region, addr).Do())
		}
		l, err := c.Compute.Addresses.List(c.Project, region).Filter(`labels.owner = "ccm"`).Do()
		if err != nil || len(l.Items) != 1 || l.Items[0].Name != "a1" {
			t.Errorf("addresses with owner=ccm = %+v (%v), want [a1]", l, err)
		}
	})
	t.Run("a filter that does not parse is 400 invalid", func(t *testing.T) {
		_, err := c.Compute.Firewalls.List(c.Project).Filter(`name = (`).Do()
		if code, reason := apiError(t, err); code != 400 || reason != "invalid" {
			t.Errorf("bad filter = %d %s, want 400 invalid", code, reason)
		}
	})
}

func TestAggregatedListsKeyItemsByScope(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	lbSetup(t, c)
	insertAddress(t, c, "addr")
	zones := []string{"zones/us-central1-a", "zones/us-central1-b", "zones/us-central1-c"}
	regional := []string{"regions/" + region}
	tests := []struct {
		name   string
		list   func() (map[string]int, map[string]string, error)
		scopes []string
		want   map[string]int
	}{
		{
			name: "addresses are listed under their region and globally",
			list: func() (map[string]int, map[string]string, error) {
				l, err := c.Compute.Addresses.AggregatedList(c.Project).Do()
				if err != nil {
					return nil, nil, err
				}
				n, w := map[string]int{}, map[string]string{}
				for k, v := range l.Items {
					n[k] = len(v.Addresses)
					if v.Warning != nil {
						w[k] = v.Warning.Code
					}
				}
				return n, w, nil
			},
			scopes: append([]string{"global"}, regional...),
			want:   map[string]int{"regions/" + region: 1},
		},
		{
			name: "forwarding rules are listed under their region",
			list: func() (map[string]int, map[string]string, error) {
				l, err := c.Compute.ForwardingRules.AggregatedList(c.Project).Do()
				if err != nil {
					return nil, nil, err
				}
				n, w := map[string]int{}, map[string]string{}
				for k, v := range l.Items {
					n[k] = len(v.ForwardingRules)
					if v.Warning != nil {
						w[k] = v.Warning.Code
					}
				}
				return n, w, nil
			},
			scopes: append([]string{"global"}, regional...),
			want:   map[string]int{"regions/" + region: 1},
		},
		{
			name: "instances are listed under their zone",
			list: func() (map[string]int, map[string]string, error) {
				l, err := c.Compute.Instances.AggregatedList(c.Project).Do()
				if err != nil {
					return nil, nil, err
				}
				n, w := map[string]int{}, map[string]string{}
				for k, v := range l.Items {
					n[k] = len(v.Instances)
					if v.Warning != nil {
						w[k] = v.Warning.Code
					}
				}
				return n, w, nil
			},
			scopes: zones,
			want:   map[string]int{"zones/" + zone: 1},
		},
		{
			name: "target pools are listed under their region",
			list: func() (map[string]int, map[string]string, error) {
				l, err := c.Compute.TargetPools.AggregatedList(c.Project).Do()
				if err != nil {
					return nil, nil, err
				}
				n, w := map[string]int{}, map[string]string{}
				for k, v := range l.Items {
					n[k] = len(v.TargetPools)
					if v.Warning != nil {
						w[k] = v.Warning.Code
					}
				}
				return n, w, nil
			},
			scopes: regional,
			want:   map[string]int{"regions/" + region: 1},
		},
		{
			name: "backend services are listed under their region and globally",
			list: func() (map[string]int, map[string]string, error) {
				l, err := c.Compute.BackendServices.AggregatedList(c.Project).Do()
				if err != nil {
					return nil, nil, err
				}
				n, w := map[string]int{}, map[string]string{}
				for k, v := range l.Items {
					n[k] = len(v.BackendServices)
					if v.Warning != nil {
						w[k] = v.Warning.Code
					}
				}
				return n, w, nil
			},
			scopes: append([]string{"global"}, regional...),
			want:   map[string]int{"regions/" + region: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts, warnings, err := tt.list()
			if err != nil {
				t.Fatal(err)
			}
			wantCounts, wantWarnings := map[string]int{}, map[string]string{}
			for _, s := range tt.scopes {
				wantCounts[s] = tt.want[s]
				if tt.want[s] == 0 {
					wantWarnings[s] = "NO_RESULTS_ON_PAGE"
				}
			}
			if diff := cmp.Diff(wantCounts, counts); diff != "" {
				t.Errorf("items by scope (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantWarnings, warnings); diff != "" {
				t.Errorf("warnings by scope (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAggregatedListsFilter(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	insertInstance(t, c, newInstance("node-1"))
	insertInstance(t, c, newInstance("bastion"))
	l, err := c.Compute.Instances.AggregatedList(c.Project).Filter("name eq node-.*").Do()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range l.Items {
		for _, i := range sc.Instances {
			names = append(names, i.Name)
		}
	}
	if diff := cmp.Diff([]string{"node-1"}, names); diff != "" {
		t.Errorf("filtered aggregated instances (-want +got):\n%s", diff)
	}
}
