package gce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
)

// authenticatedClient returns the HTTP client that carries the provider's
// credentials. The sources, first match wins:
//
//  1. [compute-api] no-authentication = true: none at all (fake-gce, or any
//     endpoint that takes no credentials). No key is even read.
//  2. token-url = <URL>: a token POSTed for to the URL (token-body, or the
//     content of token-body-file), the request itself carrying the metadata
//     server's token, as upstream's AltTokenSource does
//     (kubernetes/cloud-provider-gcp providers/gce/token_source.go).
//  3. token-url = nil: Application Default Credentials
//     (google.FindDefaultCredentials): the file GOOGLE_APPLICATION_CREDENTIALS
//     names, of any type (service_account, external_account for workload
//     identity federation, ...), else gcloud's well-known file, else the
//     metadata server. This is what upstream does with nil (providers/gce/gce.go,
//     GenerateCloudConfig and clientOptions).
//  4. token-url unset: upstream uses the metadata server's token. Where the
//     command was given GOOGLE_APPLICATION_CREDENTIALS, that file is used
//     instead: a key someone mounted is not silently passed over.
//
// A nil client means no authentication. Tokens are never logged.
func authenticatedClient(ctx context.Context, cfg *Config) (*http.Client, error) {
	var ts oauth2.TokenSource
	switch {
	case cfg.NoAuthentication:
		return nil, nil
	case cfg.TokenURL != "" && cfg.TokenURL != "nil":
		body := cfg.TokenBody
		if cfg.TokenBodyFile != "" {
			b, err := os.ReadFile(cfg.TokenBodyFile)
			if err != nil {
				return nil, &ConfigError{Key: "[compute-api] token-body-file", Problem: fmt.Sprintf("cannot be read: %v", err)}
			}
			body = strings.TrimRight(string(b), "\r\n")
		}
		// The token service is told who asks by the node's own token.
		caller := oauth2.NewClient(context.Background(), google.ComputeTokenSource(""))
		caller.Timeout = 30 * time.Second
		ts = newAltTokenSource(cfg.TokenURL, body, caller, clock.RealClock{})
	case cfg.CredentialsFile != "":
		data, err := os.ReadFile(cfg.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("read credentials file (GOOGLE_APPLICATION_CREDENTIALS): %w", err)
		}
		creds, err := google.CredentialsFromJSONWithParams(ctx, data, google.CredentialsParams{Scopes: []string{compute.ComputeScope}})
		if err != nil {
			return nil, fmt.Errorf("credentials file %s (GOOGLE_APPLICATION_CREDENTIALS): %w", cfg.CredentialsFile, err)
		}
		ts = creds.TokenSource
	case cfg.TokenURL == "nil":
		creds, err := google.FindDefaultCredentials(ctx, compute.ComputeScope)
		if err != nil {
			return nil, fmt.Errorf("token-url = nil asks for Application Default Credentials: %w", err)
		}
		ts = creds.TokenSource
	default:
		ts = google.ComputeTokenSource("", compute.ComputeScope)
	}
	return oauth2.NewClient(context.Background(), oauth2.ReuseTokenSource(nil, ts)), nil
}

// The token service's rate: upstream's tokenURLQPS and tokenURLBurst
// (providers/gce/token_source.go), so a failing service is asked three
// times at once, then once every 20 seconds.
const (
	tokenURLQPS   = 0.05
	tokenURLBurst = 3
)

// newAltTokenSource gets tokens from a token-url, the GCE provider's way for
// clusters whose credentials come from a token service: POST token-body,
// receive {"accessToken", "expireTime"} (or the OAuth2 form
// {"access_token", "expires_in"}).
func newAltTokenSource(tokenURL, body string, client *http.Client, c flowcontrol.Clock) oauth2.TokenSource {
	return &altTokenSource{url: tokenURL, body: body, client: client,
		throttle: flowcontrol.NewTokenBucketRateLimiterWithClock(tokenURLQPS, tokenURLBurst, c)}
}

type altTokenSource struct {
	url      string
	body     string
	client   *http.Client
	throttle flowcontrol.RateLimiter
}

func (a *altTokenSource) Token() (*oauth2.Token, error) {
	a.throttle.Accept()
	resp, err := a.client.Post(a.url, "application/json", bytes.NewBufferString(a.body))
	if err != nil {
		return nil, fmt.Errorf("token-url: %w", err)
	}
	defer resp.Body.Close()
	if err := googleapi.CheckResponse(resp); err != nil {
		return nil, fmt.Errorf("token-url %s: %w", a.url, err)
	}
	var tok struct {
		AccessToken  string    `json:"accessToken"`
		ExpireTime   time.Time `json:"expireTime"`
		AccessToken2 string    `json:"access_token"`
		ExpiresIn    int64     `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		return nil, fmt.Errorf("token-url %s: the answer is not a token: %v", a.url, err)
	}
	t := &oauth2.Token{AccessToken: tok.AccessToken, Expiry: tok.ExpireTime, TokenType: "Bearer"}
	if t.AccessToken == "" {
		t.AccessToken = tok.AccessToken2
		if tok.ExpiresIn > 0 {
			t.Expiry = time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
		}
	}
	if t.AccessToken == "" {
		return nil, fmt.Errorf("token-url %s: the answer has no access token", a.url)
	}
	return t, nil
}

// validateCredentials checks the keys that say how the provider
// authenticates. A token must never cross a network in clear text: http is
// accepted where no token is sent (no-authentication), or where the
// connection never leaves the machine (a loopback address: fake-gce in
// tests, a token service beside the CCM). The metadata server is reached
// over http by design, but it is link-local and not configured here.
func (raw *rawConfig) validateCredentials(c *Config) error {
	var err error
	if c.NoAuthentication, err = parseBool("compute-api", "no-authentication", raw.API.NoAuthentication); err != nil {
		return err
	}
	c.TokenBodyFile = raw.API.TokenBodyFile
	hasTokenURL := c.TokenURL != "" && c.TokenURL != "nil"
	if c.APIEndpoint != "" {
		if err := checkURL(c.APIEndpoint); err != nil {
			return bad("global", "api-endpoint", "%v", err)
		}
		if !c.NoAuthentication && isCleartextOffMachine(c.APIEndpoint) {
			return bad("global", "api-endpoint", "%q would carry an access token in clear text; use https, or [compute-api] no-authentication = true for an endpoint that takes no credentials", c.APIEndpoint)
		}
	}
	if hasTokenURL {
		if err := checkURL(c.TokenURL); err != nil {
			return bad("global", "token-url", "%v (or \"nil\" for Application Default Credentials)", err)
		}
		if isCleartextOffMachine(c.TokenURL) {
			return bad("global", "token-url", "%q would carry token-body and the metadata server's token in clear text; use https", c.TokenURL)
		}
		if c.NoAuthentication {
			return bad("compute-api", "no-authentication", "is true, but [global] token-url names a token service")
		}
	}
	if c.TokenBody != "" && !hasTokenURL {
		return bad("global", "token-body", "is set but token-url is not")
	}
	if c.TokenBodyFile != "" {
		switch {
		case c.TokenBody != "":
			return bad("compute-api", "token-body-file", "is set, and so is [global] token-body; keep the body in one place (the file, mounted from a Secret)")
		case !hasTokenURL:
			return bad("compute-api", "token-body-file", "is set but [global] token-url is not")
		case !filepath.IsAbs(c.TokenBodyFile):
			return bad("compute-api", "token-body-file", "%q is not an absolute path", c.TokenBodyFile)
		}
	}
	return nil
}

// isCleartextOffMachine reports whether a request to rawURL goes over http
// to a host other than a loopback address.
func isCleartextOffMachine(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" {
		return false
	}
	return !IsLoopbackHost(u.Hostname())
}

// IsLoopbackHost reports whether host is "localhost" or a loopback address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
