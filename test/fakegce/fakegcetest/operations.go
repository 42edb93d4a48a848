package fakegcetest

import (
	"context"
	"strings"

	"google.golang.org/api/compute/v1"
)

// WaitOperation waits until op is DONE, through the wait method of its
// scope in the project its link names (a Shared VPC's host project for a
// firewall rule, say), and returns it DONE, failed or not. Only ctx bounds
// it.
func (c *Cloud) WaitOperation(ctx context.Context, op *compute.Operation) (*compute.Operation, error) {
	project := c.Project
	if _, rest, ok := strings.Cut(op.SelfLink, "/projects/"); ok {
		project, _, _ = strings.Cut(rest, "/")
	}
	for op.Status != "DONE" {
		var err error
		switch {
		case op.Zone != "":
			op, err = c.Compute.ZoneOperations.Wait(project, lastSegment(op.Zone), op.Name).Context(ctx).Do()
		case op.Region != "":
			op, err = c.Compute.RegionOperations.Wait(project, lastSegment(op.Region), op.Name).Context(ctx).Do()
		default:
			op, err = c.Compute.GlobalOperations.Wait(project, op.Name).Context(ctx).Do()
		}
		if err != nil {
			return nil, err
		}
	}
	return op, nil
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }
