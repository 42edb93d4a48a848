package fakegce_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
)

// TestManyClientsMixingReadsAndWritesSeeConsistentState runs goroutines that
// each insert, read, list, patch and delete their own firewalls and addresses
// while the others do the same; run it with -race.
func TestManyClientsMixingReadsAndWritesSeeConsistentState(t *testing.T) {
	for _, tc := range []struct {
		name    string
		latency time.Duration
	}{
		{"with operations done at once", 0},
		{"with operations that take time", 20 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := start(t, withOpLatency(tc.latency))
			defaultNetwork(t, c)
			const workers, each = 12, 8
			var wg sync.WaitGroup
			errs := make(chan error, workers*each*8)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; i < each; i++ {
						if err := churn(c, w, i); err != nil {
							errs <- err
						}
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			var want []string
			for w := 0; w < workers; w++ {
				for i := 1; i < each; i += 2 {
					want = append(want, fmt.Sprintf("w%02d-fw-%d", w, i))
				}
			}
			l, err := c.Compute.Firewalls.List(c.Project).Do()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(sorted(want), firewallNames(l.Items)); diff != "" {
				t.Errorf("firewalls left (-want +got):\n%s", diff)
			}
			addrs, err := c.Compute.Addresses.List(c.Project, region).Do()
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]string{}
			for _, a := range addrs.Items {
				if other, dup := seen[a.Address]; dup {
					t.Errorf("addresses %s and %s share %s", other, a.Name, a.Address)
				}
				seen[a.Address] = a.Name
			}
			if len(addrs.Items) != workers*each {
				t.Errorf("addresses = %d, want %d", len(addrs.Items), workers*each)
			}
		})
	}
}

// churn is one worker's round: it fails only on what the worker's own
// names make certain.
func churn(c *fakegcetest.Cloud, w, i int) error {
	name := fmt.Sprintf("w%02d-fw-%d", w, i)
	if err := done(c, c.Compute.Firewalls.Insert(c.Project, newFirewall(name)).Do); err != nil {
		return fmt.Errorf("insert %s: %w", name, err)
	}
	if err := done(c, c.Compute.Addresses.Insert(c.Project, region, &compute.Address{Name: fmt.Sprintf("w%02d-ip-%d", w, i)}).Do); err != nil {
		return fmt.Errorf("insert address of %s: %w", name, err)
	}
	if _, err := c.Compute.Firewalls.Get(c.Project, name).Do(); err != nil {
		return fmt.Errorf("get %s: %w", name, err)
	}
	desc := "round " + name
	if err := done(c, c.Compute.Firewalls.Patch(c.Project, name, &compute.Firewall{Description: desc}).Do); err != nil {
		return fmt.Errorf("patch %s: %w", name, err)
	}
	l, err := c.Compute.Firewalls.List(c.Project).Filter(fmt.Sprintf("name eq w%02d-fw-.*", w)).Do()
	if err != nil {
		return fmt.Errorf("list after %s: %w", name, err)
	}
	found := false
	for _, fw := range l.Items {
		if fw.Name == name {
			found = fw.Description == desc
		}
	}
	if !found {
		return fmt.Errorf("list after patching %s does not show it patched", name)
	}
	if i%2 == 0 {
		if err := done(c, c.Compute.Firewalls.Delete(c.Project, name).Do); err != nil {
			return fmt.Errorf("delete %s: %w", name, err)
		}
		if _, err := c.Compute.Firewalls.Get(c.Project, name).Do(); err == nil {
			return fmt.Errorf("get %s after its delete is done succeeded", name)
		}
	}
	return nil
}

// done runs a mutation and waits for its (global or regional) operation
// without a testing.T, so that workers can report errors.
func done(c *fakegcetest.Cloud, do func(...googleapi.CallOption) (*compute.Operation, error)) error {
	op, err := do()
	if err != nil {
		return err
	}
	for op.Status != "DONE" {
		if op.Region != "" {
			op, err = c.Compute.RegionOperations.Wait(c.Project, lastSegment(op.Region), op.Name).Do()
		} else {
			op, err = c.Compute.GlobalOperations.Wait(c.Project, op.Name).Do()
		}
		if err != nil {
			return err
		}
	}
	if op.Error != nil {
		return fmt.Errorf("operation failed: %s", opErrorText(op))
	}
	return nil
}
