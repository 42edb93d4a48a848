package nlb

import (
	"context"
	"fmt"
)

// internalLB is the internal passthrough load balancer: a backend service
// of the INTERNAL scheme on the same shared groups, with an internal
// address of the subnetwork and rules in the VPC (bsRulesOf). What it
// reads beyond the backend service's: the VPC's ranges, its clients when
// the Service names none.
type internalLB struct{ backendService }

func (l internalLB) observe(ctx context.Context, d *Desired, o *Observed) error {
	if err := l.backendService.observe(ctx, d, o); err != nil {
		return err
	}
	if len(d.SourceRanges) > 0 {
		return nil
	}
	b := l.b
	ranges, err := b.api.NetworkRanges(ctx, b.p.NetworkURL)
	if err != nil {
		return fmt.Errorf("read the ranges of network %s: %w", b.p.NetworkURL, err)
	}
	o.NetworkRanges = ranges
	return nil
}

// withInternalClients is d with the clients of an internal load balancer:
// the Service's source ranges, else the VPC's own. It is pure.
func withInternalClients(d *Desired, o *Observed) *Desired {
	if len(d.SourceRanges) > 0 {
		return d
	}
	c := *d
	c.SourceRanges = o.NetworkRanges
	return &c
}
