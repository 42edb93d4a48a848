package gce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
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
func authenticatedClient(ctx context.Context, cfg *cloudconfig.Config) (*http.Client, error) {
	var ts oauth2.TokenSource
	switch {
	case cfg.NoAuthentication:
		return nil, nil
	case cfg.TokenURL != "" && cfg.TokenURL != "nil":
		body := cfg.TokenBody
		if cfg.TokenBodyFile != "" {
			b, err := os.ReadFile(cfg.TokenBodyFile)
			if err != nil {
				return nil, &cloudconfig.Error{Key: "[compute-api] token-body-file", Problem: fmt.Sprintf("cannot be read: %v", err)}
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
