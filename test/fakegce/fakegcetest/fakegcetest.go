// Package fakegcetest starts fake-gce in-process for a Go test and hands back
// the official compute client pointed at it over HTTP.
//
// It is supported for other projects' tests (docs/ci.md): Start, the Cloud
// fields, WaitOperation and fakegce.Config change only with a note in the
// release's notes. It must never import a Kubernetes module, so that a test
// using it compiles little besides google.golang.org/api.
package fakegcetest

import (
	"context"
	"net/http/httptest"
	"testing"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/option"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

// Cloud is a running fake and a client for it.
type Cloud struct {
	Server *fakegce.Server
	HTTP   *httptest.Server
	// Endpoint is the compute API base URL: http://127.0.0.1:PORT/compute/v1/.
	Endpoint string
	// Host is host:port, for GCE_METADATA_HOST.
	Host    string
	Compute *compute.Service
	Project string
}

// Start runs a fake cloud for the test; it stops when the test ends.
func Start(t testing.TB, cfg fakegce.Config) *Cloud {
	t.Helper()
	srv, err := fakegce.New(cfg)
	if err != nil {
		t.Fatalf("start fake-gce: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	endpoint := hs.URL + "/compute/v1/"
	opts := []option.ClientOption{option.WithEndpoint(endpoint), option.WithHTTPClient(hs.Client())}
	svc, err := compute.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatalf("compute client: %v", err)
	}
	project := "fake-project"
	if len(cfg.Projects) > 0 {
		project = cfg.Projects[0]
	}
	return &Cloud{Server: srv, HTTP: hs, Endpoint: endpoint, Host: hs.Listener.Addr().String(), Compute: svc, Project: project}
}
