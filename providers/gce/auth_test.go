package gce

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
)

// fakeTokenEndpoint is a token endpoint on loopback: it records the
// Authorization header of the last request and answers with answer.
type fakeTokenEndpoint struct {
	*httptest.Server
	requests      atomic.Int32
	authorization atomic.Value // string
}

func startTokenEndpoint(t *testing.T, status int, answer string) *fakeTokenEndpoint {
	e := &fakeTokenEndpoint{}
	e.authorization.Store("")
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.requests.Add(1)
		e.authorization.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(answer))
	}))
	t.Cleanup(e.Close)
	return e
}

// writeJSON writes v to a file in a test directory and returns its path.
func writeJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serviceAccountKeyFile is a service-account key whose token_uri is tokenURI.
func serviceAccountKeyFile(t *testing.T, tokenURI string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return writeJSON(t, map[string]string{"type": "service_account", "project_id": "fake-project",
		"private_key_id": "k1", "private_key": string(keyPEM), "client_email": "ccm@fake-project.iam.gserviceaccount.com",
		"token_uri": tokenURI})
}

// externalAccountFile is a workload-identity-federation credential
// configuration (type external_account) whose subject token is a file and
// whose security token service is sts.
func externalAccountFile(t *testing.T, sts string) string {
	t.Helper()
	subject := filepath.Join(t.TempDir(), "subject-token")
	if err := os.WriteFile(subject, []byte("a-jwt-from-the-cluster-issuer"), 0o600); err != nil {
		t.Fatal(err)
	}
	return writeJSON(t, map[string]any{
		"type":               "external_account",
		"audience":           "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/ccm/providers/cluster",
		"subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
		"token_url":          sts,
		"credential_source":  map[string]any{"file": subject},
	})
}

// Upstream (kubernetes/cloud-provider-gcp providers/gce/gce.go,
// GenerateCloudConfig and clientOptions): token-url = nil sets no token
// source, and the client then uses google.FindDefaultCredentials, the
// Application Default Credentials.
func TestTokenURLNilUsesApplicationDefaultCredentials(t *testing.T) {
	const token = "adc-token"
	stsAnswer := `{"access_token":"` + token + `","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3600}`
	tests := []struct {
		name  string
		setup func(t *testing.T, fc *fakegcetest.Cloud) *fakeTokenEndpoint
	}{
		{name: "a workload identity federation file (external_account) in GOOGLE_APPLICATION_CREDENTIALS", setup: func(t *testing.T, fc *fakegcetest.Cloud) *fakeTokenEndpoint {
			sts := startTokenEndpoint(t, http.StatusOK, stsAnswer)
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", externalAccountFile(t, sts.URL))
			return sts
		}},
		{name: "a service-account key in GOOGLE_APPLICATION_CREDENTIALS", setup: func(t *testing.T, fc *fakegcetest.Cloud) *fakeTokenEndpoint {
			oauth := startTokenEndpoint(t, http.StatusOK, stsAnswer)
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", serviceAccountKeyFile(t, oauth.URL))
			return oauth
		}},
		{name: "no key file: the metadata server's token", setup: func(t *testing.T, fc *fakegcetest.Cloud) *fakeTokenEndpoint {
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
			t.Setenv("GCE_METADATA_HOST", fc.Host)
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOME", t.TempDir()) // no gcloud well-known file
			t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
			fc := fakegcetest.Start(t, fakegce.Config{RequireToken: token, ServeMetadataToken: true})
			endpoint := tt.setup(t, fc)
			cfg := &cloudconfig.Config{NodeTags: []string{"k8s-node"}, ProjectID: fc.Project, LocalZone: "us-central1-a", NetworkName: "vpc", APIEndpoint: fc.Endpoint,
				TokenURL: "nil", API: cloudconfig.APIConfig{QPS: 100, Burst: 100}}
			p, err := New(context.Background(), cfg, Options{ClusterName: "c"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.ListRoutes(context.Background(), "c"); err != nil {
				t.Fatalf("list routes with token-url = nil: %v", err)
			}
			if endpoint != nil && endpoint.requests.Load() != 1 {
				t.Errorf("token endpoint asked %d times, want 1", endpoint.requests.Load())
			}
		})
	}
}

// Upstream's AltTokenSource (kubernetes/cloud-provider-gcp
// providers/gce/token_source.go) POSTs token-body with an OAuth2 client
// whose token is the metadata server's: the token service knows the caller.
func TestTokenURLRequestCarriesTheMetadataServersToken(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	metadataServer := fakegcetest.Start(t, fakegce.Config{RequireToken: "node-token", ServeMetadataToken: true})
	t.Setenv("GCE_METADATA_HOST", metadataServer.Host)
	fc := fakegcetest.Start(t, fakegce.Config{RequireToken: "alt-token"})
	tokenURL := startTokenEndpoint(t, http.StatusOK, `{"accessToken":"alt-token","expireTime":"2099-01-01T00:00:00Z"}`)
	cfg := &cloudconfig.Config{NodeTags: []string{"k8s-node"}, ProjectID: fc.Project, LocalZone: "us-central1-a", NetworkName: "vpc", APIEndpoint: fc.Endpoint,
		TokenURL: tokenURL.URL, TokenBody: `{"scope":"compute"}`, API: cloudconfig.APIConfig{QPS: 100, Burst: 100}}
	p, err := New(context.Background(), cfg, Options{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ListRoutes(context.Background(), "c"); err != nil {
		t.Fatalf("list routes with a token-url: %v", err)
	}
	if got := tokenURL.authorization.Load(); got != "Bearer node-token" {
		t.Errorf("the token-url request's Authorization = %q, want the metadata server's token", got)
	}
}

// no-authentication wins over every other source: a mounted key is not even
// read, so it cannot be sent to an endpoint that takes no credentials.
func TestNoAuthenticationSendsNoCredentials(t *testing.T) {
	oauth := startTokenEndpoint(t, http.StatusOK, `{"access_token":"k","token_type":"Bearer","expires_in":3600}`)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", serviceAccountKeyFile(t, oauth.URL))
	var authorization atomic.Value
	authorization.Store("")
	fc := fakegcetest.Start(t, fakegce.Config{})
	spy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authorization.Store(r.Header.Get("Authorization"))
		httputil.NewSingleHostReverseProxy(mustURL(t, "http://"+fc.Host)).ServeHTTP(w, r)
	}))
	t.Cleanup(spy.Close)
	cfg, err := cloudconfig.Parse(strings.NewReader("[global]\nproject-id = " + fc.Project + "\nlocal-zone = us-central1-a\nnetwork-name = vpc\nnode-tags = k8s-node\napi-endpoint = " +
		spy.URL + "/compute/v1/\n[compute-api]\nno-authentication = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(context.Background(), cfg, Options{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ListRoutes(context.Background(), "c"); err != nil {
		t.Fatal(err)
	}
	if got := authorization.Load(); got != "" || oauth.requests.Load() != 0 {
		t.Errorf("Authorization = %q, key's token endpoint asked %d times; want no credentials at all", got, oauth.requests.Load())
	}
}

// token-body-file keeps the body (a secret) out of gce.conf, which deploy/
// ships as a ConfigMap: the file comes from a Secret.
func TestTokenBodyFileIsWhatTheTokenURLIsSent(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	metadataServer := fakegcetest.Start(t, fakegce.Config{RequireToken: "node-token", ServeMetadataToken: true})
	t.Setenv("GCE_METADATA_HOST", metadataServer.Host)
	fc := fakegcetest.Start(t, fakegce.Config{RequireToken: "alt-token"})
	var body atomic.Value
	tokenURL := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body.Store(string(b))
		w.Write([]byte(`{"accessToken":"alt-token","expireTime":"2099-01-01T00:00:00Z"}`))
	}))
	t.Cleanup(tokenURL.Close)
	bodyFile := filepath.Join(t.TempDir(), "token-body")
	os.WriteFile(bodyFile, []byte(`{"secret":"from a Secret"}`+"\n"), 0o600)
	cfg := &cloudconfig.Config{NodeTags: []string{"k8s-node"}, ProjectID: fc.Project, LocalZone: "us-central1-a", NetworkName: "vpc", APIEndpoint: fc.Endpoint,
		TokenURL: tokenURL.URL, TokenBodyFile: bodyFile, API: cloudconfig.APIConfig{QPS: 100, Burst: 100}}
	p, err := New(context.Background(), cfg, Options{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ListRoutes(context.Background(), "c"); err != nil {
		t.Fatal(err)
	}
	if got := body.Load(); got != `{"secret":"from a Secret"}` {
		t.Errorf("token-url was sent %q, want the file's content without its final newline", got)
	}
}

// Upstream throttles the token service (tokenURLQPS = .05, tokenURLBurst =
// 3 in providers/gce/token_source.go): a failing one is asked at most three
// times at once, then once every 20 seconds.
func TestTokenURLIsThrottledAsUpstreamThrottlesIt(t *testing.T) {
	failing := startTokenEndpoint(t, http.StatusServiceUnavailable, `{"error":{"code":503,"message":"down"}}`)
	clock := testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	start := clock.Now()
	src := newAltTokenSource(failing.URL, "{}", http.DefaultClient, clock)
	for i := 0; i < 4; i++ {
		if _, err := src.Token(); err == nil {
			t.Fatalf("call %d: a 503 gave a token", i)
		}
	}
	if waited := clock.Since(start); waited < 19*time.Second {
		t.Errorf("four failing token requests waited %v, want the fourth to wait about 20s", waited)
	}
	if failing.requests.Load() != 4 {
		t.Errorf("token service asked %d times, want 4", failing.requests.Load())
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
