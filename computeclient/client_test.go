package computeclient_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

func newClient(t *testing.T, cloud *fakegcetest.Cloud, tune func(*computeclient.Config)) *computeclient.Client {
	t.Helper()
	cfg := computeclient.Config{Project: cloud.Project, Endpoint: cloud.Endpoint, HTTPClient: cloud.HTTP.Client(),
		QPS: 1000, Burst: 1000, MaxRetries: 3, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	c, err := computeclient.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func route(name string) *compute.Route {
	return &compute.Route{Name: name, Network: "global/networks/default", DestRange: "10.8.0.0/24",
		NextHopGateway: "global/gateways/default-internet-gateway"}
}

func withNetwork(t *testing.T, cloud *fakegcetest.Cloud) {
	t.Helper()
	fixture.InsertNetwork(t, cloud, cloud.Project, fixture.AutoNetwork("default"))
}

func countCalls(cloud *fakegcetest.Cloud, api string) int {
	n := 0
	for _, c := range cloud.Server.Calls() {
		if c.API == api {
			n++
		}
	}
	return n
}

func TestRetriesOnlyWhatARetryCanFix(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		reason    string
		wantCalls int
		wantClass computeclient.Class
		wantOK    bool
	}{
		{name: "a 503 is retried until it succeeds", code: 503, wantCalls: 3, wantOK: true},
		{name: "a 429 is retried until it succeeds", code: 429, wantCalls: 3, wantOK: true},
		{name: "a 403 rateLimitExceeded is retried", code: 403, reason: "rateLimitExceeded", wantCalls: 3, wantOK: true},
		{name: "a 403 quotaExceeded is not retried", code: 403, reason: "quotaExceeded", wantCalls: 1, wantClass: computeclient.ClassQuota},
		{name: "a 400 is not retried", code: 400, wantCalls: 1, wantClass: computeclient.ClassInvalid},
		{name: "a 404 is not retried", code: 404, wantCalls: 1, wantClass: computeclient.ClassNotFound},
		{name: "a 409 is not retried", code: 409, wantCalls: 1, wantClass: computeclient.ClassConflict},
		{name: "a 412 is not retried", code: 412, wantCalls: 1, wantClass: computeclient.ClassPreconditionFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cloud := fakegcetest.Start(t, fakegce.Config{})
			withNetwork(t, cloud)
			c := newClient(t, cloud, nil)
			if err := cloud.Server.SetFaults([]fakegce.FaultRule{{Method: "compute.routes.list", Code: tt.code, Reason: tt.reason, Count: 2}}); err != nil {
				t.Fatal(err)
			}
			_, err := c.ListRoutes(context.Background(), "")
			if got := countCalls(cloud, "compute.routes.list"); got != tt.wantCalls {
				t.Errorf("routes.list sent %d times, want %d", got, tt.wantCalls)
			}
			if tt.wantOK {
				if err != nil {
					t.Errorf("ListRoutes: %v", err)
				}
				return
			}
			if got := computeclient.Classify(err); got != tt.wantClass {
				t.Errorf("Classify(%v) = %s, want %s", err, got, tt.wantClass)
			}
		})
	}
}

func TestRetriesStopAfterMaxRetries(t *testing.T) {
	cloud := fakegcetest.Start(t, fakegce.Config{})
	c := newClient(t, cloud, func(cfg *computeclient.Config) { cfg.MaxRetries = 2 })
	cloud.Server.SetFaults([]fakegce.FaultRule{{Method: "compute.routes.list", Code: 503}})
	_, err := c.ListRoutes(context.Background(), "")
	if computeclient.Classify(err) != computeclient.ClassServer {
		t.Fatalf("err = %v, want a server error", err)
	}
	if got := countCalls(cloud, "compute.routes.list"); got != 3 {
		t.Errorf("routes.list sent %d times, want 3 (one try and two retries)", got)
	}
}

func TestInsertingAnExistingRouteIsAConflict(t *testing.T) {
	cloud := fakegcetest.Start(t, fakegce.Config{})
	withNetwork(t, cloud)
	c := newClient(t, cloud, nil)
	ctx := context.Background()
	if err := c.InsertRoute(ctx, route("r1")); err != nil {
		t.Fatal(err)
	}
	err := c.InsertRoute(ctx, route("r1"))
	if !computeclient.IsConflict(err) {
		t.Fatalf("second insert of the same route: %v, want a conflict", err)
	}
}

func TestRateLimiterHoldsCallsBack(t *testing.T) {
	cloud := fakegcetest.Start(t, fakegce.Config{})
	withNetwork(t, cloud)
	c := newClient(t, cloud, func(cfg *computeclient.Config) { cfg.QPS, cfg.Burst = 0.01, 1 })
	if _, err := c.ListRoutes(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	// The next token is 100 s away: a call with a shorter deadline is refused
	// at once, without reaching the API.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := c.ListRoutes(ctx, "")
	if computeclient.Classify(err) != computeclient.ClassCanceled {
		t.Errorf("err = %v, want the call canceled by the rate limiter", err)
	}
	if got := countCalls(cloud, "compute.routes.list"); got != 1 {
		t.Errorf("routes.list reached the API %d times, want 1", got)
	}
}

func TestContextCancellationStopsAWait(t *testing.T) {
	cloud := fakegcetest.Start(t, fakegce.Config{OpLatency: time.Hour})
	c := newClient(t, cloud, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := c.Mutate(ctx, "networks.insert", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.Service().Networks.Insert(cloud.Project, &compute.Network{Name: "net"}).RequestId(id).Context(ctx).Do()
	})
	if computeclient.Classify(err) != computeclient.ClassCanceled {
		t.Errorf("err = %v, want canceled", err)
	}
	// The wait reached the API and was cut short there; the fake logs it once
	// its handler sees the cancellation.
	for deadline := time.Now().Add(5 * time.Second); countCalls(cloud, "compute.globalOperations.wait") == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := countCalls(cloud, "compute.globalOperations.wait"); got != 1 {
		t.Errorf("globalOperations.wait sent %d times, want 1 (cut short by the context)", got)
	}
}

func TestAFailedOperationIsClassified(t *testing.T) {
	cloud := fakegcetest.Start(t, fakegce.Config{})
	withNetwork(t, cloud)
	c := newClient(t, cloud, nil)
	cloud.Server.SetFaults([]fakegce.FaultRule{{Method: "compute.routes.insert", Code: http.StatusForbidden, Reason: "quotaExceeded", FailOperation: true}})
	err := c.InsertRoute(context.Background(), route("r1"))
	var operr *computeclient.OperationError
	if !errors.As(err, &operr) {
		t.Fatalf("err = %v, want an OperationError", err)
	}
	if got := computeclient.Classify(err); got != computeclient.ClassQuota {
		t.Errorf("Classify = %s, want quota", got)
	}
}

func TestNotFoundAndInUseAreClassified(t *testing.T) {
	cloud := fakegcetest.Start(t, fakegce.Config{})
	withNetwork(t, cloud)
	c := newClient(t, cloud, nil)
	ctx := context.Background()
	if err := c.DeleteRoute(ctx, "missing"); !computeclient.IsNotFound(err) {
		t.Errorf("delete of a missing route: %v, want not found", err)
	}
	if err := c.InsertRoute(ctx, route("r1")); err != nil {
		t.Fatal(err)
	}
	err := c.Mutate(ctx, "networks.delete", func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.Service().Networks.Delete(cloud.Project, "default").RequestId(id).Context(ctx).Do()
	})
	if !computeclient.IsInUse(err) {
		t.Errorf("delete of a network with a route: %v, want in use", err)
	}
}
