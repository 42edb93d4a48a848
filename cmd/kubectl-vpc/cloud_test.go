package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
)

// userKey makes GOOGLE_APPLICATION_CREDENTIALS a service-account key whose
// tokens ("users-token") come from a local token endpoint: the user's
// Google credentials, as Application Default Credentials find them.
func userKey(t *testing.T) {
	t.Helper()
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"users-token","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(tokens.Close)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": "fake-project", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		"client_email": "user@fake-project.iam.gserviceaccount.com", "token_uri": tokens.URL})
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
}

// authorizationSpy is fake-gce behind a proxy that records the
// Authorization header of every request.
type authorizationSpy struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func startAuthorizationSpy(t *testing.T) (*authorizationSpy, *fakegcetest.Cloud) {
	fc := fakegcetest.Start(t, fakegce.Config{})
	target, _ := url.Parse("http://" + fc.Host)
	s := &authorizationSpy{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, r.Header.Get("Authorization"))
		s.mu.Unlock()
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s, fc
}

func (s *authorizationSpy) credentialsSeen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, a := range s.seen {
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

// kubectl-vpc runs with the user's own Google credentials; a cloud config
// someone handed them must not be a way to collect those credentials, so
// they go only to Google's API over https unless a flag says otherwise.
func TestTheUsersCredentialsGoOnlyWhereTheyAreMeantTo(t *testing.T) {
	tests := []struct {
		name      string
		computeKV string // extra [compute-api] keys
		send      bool   // --send-credentials-to-endpoint
		wantErr   string
		wantSeen  int // requests that carried credentials
	}{
		{name: "a cloud config naming an endpoint other than Google's gets none, and the error names the flag",
			wantErr: "--send-credentials-to-endpoint"},
		{name: "the flag sends them to that endpoint", send: true, wantSeen: 1},
		{name: "a cloud config saying no-authentication sends none and needs no flag", computeKV: "no-authentication = true\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOME", t.TempDir())
			userKey(t)
			spy, fc := startAuthorizationSpy(t)
			conf := filepath.Join(t.TempDir(), "gce.conf")
			os.WriteFile(conf, []byte(fmt.Sprintf("[global]\nproject-id = %s\nlocal-zone = us-central1-a\napi-endpoint = %s/compute/v1/\n[compute-api]\n%s",
				fc.Project, spy.URL, tt.computeKV)), 0o600)
			o := &Options{CloudConfig: conf, ClusterName: clusterName, SendCredentialsToEndpoint: tt.send}
			s, err := cloudSettingsOf(context.Background(), o, fake.NewClientset())
			if err != nil {
				t.Fatal(err)
			}
			client, err := s.computeClient(context.Background(), o)
			if err == nil {
				_, err = client.GetRegion(context.Background(), "us-central1")
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("get region: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("err = %v, want one naming %s", err, tt.wantErr)
			}
			if got := spy.credentialsSeen(); len(got) != tt.wantSeen {
				t.Errorf("the endpoint received credentials %d times (%q), want %d", len(got), got, tt.wantSeen)
			}
		})
	}
}
