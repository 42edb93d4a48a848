package dataplane

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/api/compute/v1"
)

// observer reads fake-gce's state through the compute API, with the client
// production uses.
type observer struct {
	svc     *compute.Service
	project string
	regions []string
	network string
}

// observe lists every resource Compile reads. The instance groups' members
// are read only for the groups a backend service uses.
func (o *observer) observe(ctx context.Context) (State, error) {
	s := State{Network: o.network, InstanceGroups: map[string][]string{}}
	p := o.project
	steps := []struct {
		what string
		do   func() error
	}{
		{"list instances", func() error {
			return o.svc.Instances.AggregatedList(p).Context(ctx).Pages(ctx, func(l *compute.InstanceAggregatedList) error {
				for _, scoped := range l.Items {
					s.Instances = append(s.Instances, scoped.Instances...)
				}
				return nil
			})
		}},
		{"list firewalls", func() error {
			return o.svc.Firewalls.List(p).Context(ctx).Pages(ctx, func(l *compute.FirewallList) error {
				s.Firewalls = append(s.Firewalls, l.Items...)
				return nil
			})
		}},
		{"list routes", func() error {
			return o.svc.Routes.List(p).Context(ctx).Pages(ctx, func(l *compute.RouteList) error {
				s.Routes = append(s.Routes, l.Items...)
				return nil
			})
		}},
		{"list httpHealthChecks", func() error {
			return o.svc.HttpHealthChecks.List(p).Context(ctx).Pages(ctx, func(l *compute.HttpHealthCheckList) error {
				s.HTTPHealthChecks = append(s.HTTPHealthChecks, l.Items...)
				return nil
			})
		}},
		{"list healthChecks", func() error {
			return o.svc.HealthChecks.List(p).Context(ctx).Pages(ctx, func(l *compute.HealthCheckList) error {
				s.HealthChecks = append(s.HealthChecks, l.Items...)
				return nil
			})
		}},
	}
	for _, r := range o.regions {
		steps = append(steps, []struct {
			what string
			do   func() error
		}{
			{"list forwardingRules in " + r, func() error {
				return o.svc.ForwardingRules.List(p, r).Context(ctx).Pages(ctx, func(l *compute.ForwardingRuleList) error {
					s.ForwardingRules = append(s.ForwardingRules, l.Items...)
					return nil
				})
			}},
			{"list targetPools in " + r, func() error {
				return o.svc.TargetPools.List(p, r).Context(ctx).Pages(ctx, func(l *compute.TargetPoolList) error {
					s.TargetPools = append(s.TargetPools, l.Items...)
					return nil
				})
			}},
			{"list regionBackendServices in " + r, func() error {
				return o.svc.RegionBackendServices.List(p, r).Context(ctx).Pages(ctx, func(l *compute.BackendServiceList) error {
					s.BackendServices = append(s.BackendServices, l.Items...)
					return nil
				})
			}},
			{"list regionHealthChecks in " + r, func() error {
				return o.svc.RegionHealthChecks.List(p, r).Context(ctx).Pages(ctx, func(l *compute.HealthCheckList) error {
					s.HealthChecks = append(s.HealthChecks, l.Items...)
					return nil
				})
			}},
		}...)
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			return State{}, fmt.Errorf("%s: %w", st.what, err)
		}
	}
	for _, bs := range s.BackendServices {
		for _, b := range bs.Backends {
			g := resourcePath(b.Group)
			if _, done := s.InstanceGroups[g]; done {
				continue
			}
			members, err := o.groupMembers(ctx, g)
			if err != nil {
				return State{}, err
			}
			s.InstanceGroups[g] = members
		}
	}
	return s, nil
}

// groupMembers lists an instance group's instances (projects/P/zones/Z/instanceGroups/N).
func (o *observer) groupMembers(ctx context.Context, group string) ([]string, error) {
	parts := strings.Split(group, "/")
	if len(parts) != 6 || parts[2] != "zones" || parts[4] != "instanceGroups" {
		return nil, nil // not a zonal instance group: no members the lab can reach
	}
	var out []string
	err := o.svc.InstanceGroups.ListInstances(parts[1], parts[3], parts[5], &compute.InstanceGroupsListInstancesRequest{InstanceState: "ALL"}).
		Context(ctx).Pages(ctx, func(l *compute.InstanceGroupsListInstances) error {
		for _, m := range l.Items {
			out = append(out, m.Instance)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list instances of instance group %s: %w", group, err)
	}
	return out, nil
}
