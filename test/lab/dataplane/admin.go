package dataplane

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/klog/v2"
)

// adminClient speaks fake-gce's admin endpoints: the generation long poll
// and the health reports.
type adminClient struct {
	base string // fake-gce's URL, without /compute/v1/
	http *http.Client
}

// generationAfter long-polls GET /admin/v1/generation?after=N: it answers as
// soon as the fake's state is newer than after, or after the fake's wait
// limit with the generation as it is.
func (a adminClient) generationAfter(ctx context.Context, after uint64) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/admin/v1/generation?after="+strconv.FormatUint(after, 10), nil)
	if err != nil {
		return 0, err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("get generation: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("get generation: %s: %s", resp.Status, b)
	}
	var body struct {
		Generation uint64 `json:"generation"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("get generation: decode answer: %w", err)
	}
	return body.Generation, nil
}

// watchGenerations sends each new generation of the fake's state to out,
// keeping only the latest one when the reader is busy. A generation lower
// than the last one (the fake restarted) counts as new too.
func (a adminClient) watchGenerations(ctx context.Context, out chan uint64, logger klog.Logger) {
	var after uint64
	for ctx.Err() == nil {
		g, err := a.generationAfter(ctx, after)
		if err != nil {
			if ctx.Err() == nil {
				logger.Error(err, "Waiting for fake-gce's state to change")
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		if g == after {
			continue
		}
		after = g
		select {
		case <-out: // drop the unread older one
		default:
		}
		out <- g
	}
}

// reportHealth replaces the fake's reported health with results
// (PUT /admin/v1/health), so that targetPools.getHealth and
// backendServices.getHealth answer what the probes found: the IPv6 results
// with ipVersion IPV6, which getHealth answers as ipv6HealthState.
func (a adminClient) reportHealth(ctx context.Context, results map[HealthKey]bool) error {
	type report struct {
		HealthCheck string `json:"healthCheck"`
		Instance    string `json:"instance"`
		HealthState string `json:"healthState"`
		IPVersion   string `json:"ipVersion,omitempty"`
	}
	body := struct {
		Health []report `json:"health"`
	}{Health: []report{}}
	for k, healthy := range results {
		r := report{HealthCheck: k.Check, Instance: k.Instance, HealthState: "UNHEALTHY"}
		if healthy {
			r.HealthState = "HEALTHY"
		}
		if k.IPv6 {
			r.IPVersion = "IPV6"
		}
		body.Health = append(body.Health, r)
	}
	slices.SortFunc(body.Health, func(a, b report) int {
		return cmp.Or(strings.Compare(a.HealthCheck, b.HealthCheck), strings.Compare(a.Instance, b.Instance),
			strings.Compare(a.IPVersion, b.IPVersion))
	})
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, a.base+"/admin/v1/health", bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("put health: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("put health: %s: %s", resp.Status, b)
	}
	return nil
}
