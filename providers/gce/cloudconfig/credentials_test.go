package cloudconfig

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// An access token sent over http can be read by anyone on the path, so an
// http endpoint is accepted only where no token goes (no-authentication) or
// where it never leaves the machine (a loopback address, where fake-gce and
// local token services listen).
func TestCredentialKeysRefuseCleartextAndContradictions(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string
	}{
		{name: "an http api endpoint off the machine, with credentials", file: "[global]\napi-endpoint = http://compute.example.com/compute/v1/\n",
			want: `cloud config: [global] api-endpoint: "http://compute.example.com/compute/v1/" would carry an access token in clear text; use https, or [compute-api] no-authentication = true for an endpoint that takes no credentials`},
		{name: "an http token url off the machine", file: "[global]\ntoken-url = http://tokens.example.com/token\n",
			want: `cloud config: [global] token-url: "http://tokens.example.com/token" would carry token-body and the metadata server's token in clear text; use https`},
		{name: "a token url that no-authentication would ignore", file: "[global]\ntoken-url = https://tokens.example.com/token\n[compute-api]\nno-authentication = true\n",
			want: `cloud config: [compute-api] no-authentication: is true, but [global] token-url names a token service`},
		{name: "a bad no-authentication switch", file: "[compute-api]\nno-authentication = maybe\n",
			want: `cloud config: [compute-api] no-authentication: "maybe" is not a boolean (want true or false)`},
		{name: "a token body in the file and in a file of its own", file: "[global]\ntoken-url = https://tokens.example.com/token\ntoken-body = {}\n[compute-api]\ntoken-body-file = /etc/kubernetes/cloud-secret/token-body\n",
			want: `cloud config: [compute-api] token-body-file: is set, and so is [global] token-body; keep the body in one place (the file, mounted from a Secret)`},
		{name: "a token body file without a token url", file: "[compute-api]\ntoken-body-file = /etc/kubernetes/cloud-secret/token-body\n",
			want: `cloud config: [compute-api] token-body-file: is set but [global] token-url is not`},
		{name: "a relative token body file", file: "[global]\ntoken-url = https://tokens.example.com/token\n[compute-api]\ntoken-body-file = token-body\n",
			want: `cloud config: [compute-api] token-body-file: "token-body" is not an absolute path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.file))
			if err == nil {
				t.Fatalf("Parse accepted %q", tt.file)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q\nwant    %q", err, tt.want)
			}
		})
	}
}

func TestCredentialKeysAccepted(t *testing.T) {
	tests := []struct {
		name string
		file string
		want credentialKeys
	}{
		{name: "http to fake-gce on loopback, with the metadata server's token", file: "[global]\napi-endpoint = http://127.0.0.1:8085/compute/v1/\n",
			want: credentialKeys{APIEndpoint: "http://127.0.0.1:8085/compute/v1/"}},
		{name: "http to localhost and an IPv6 loopback token service", file: "[global]\napi-endpoint = http://localhost:8085/compute/v1/\ntoken-url = http://[::1]:9000/token\n",
			want: credentialKeys{APIEndpoint: "http://localhost:8085/compute/v1/", TokenURL: "http://[::1]:9000/token"}},
		{name: "http anywhere when no credentials are sent", file: "[global]\napi-endpoint = http://fake-gce.ci.svc:8085/compute/v1/\n[compute-api]\nno-authentication = true\n",
			want: credentialKeys{APIEndpoint: "http://fake-gce.ci.svc:8085/compute/v1/", NoAuthentication: true}},
		{name: "token-url = nil (Application Default Credentials) with an https endpoint", file: "[global]\napi-endpoint = https://compute.example.com/compute/v1/\ntoken-url = nil\n",
			want: credentialKeys{APIEndpoint: "https://compute.example.com/compute/v1/", TokenURL: "nil"}},
		{name: "a token body from a Secret's file", file: "[global]\ntoken-url = https://tokens.example.com/token\n[compute-api]\ntoken-body-file = /etc/kubernetes/cloud-secret/token-body\n",
			want: credentialKeys{TokenURL: "https://tokens.example.com/token", TokenBodyFile: "/etc/kubernetes/cloud-secret/token-body"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got := credentialKeys{APIEndpoint: c.APIEndpoint, TokenURL: c.TokenURL, TokenBody: c.TokenBody,
				TokenBodyFile: c.TokenBodyFile, NoAuthentication: c.NoAuthentication}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("credential keys (-want +got):\n%s", diff)
			}
		})
	}
}

type credentialKeys struct {
	APIEndpoint, TokenURL, TokenBody, TokenBodyFile string
	NoAuthentication                                bool
}
