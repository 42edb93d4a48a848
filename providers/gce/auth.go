package gce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/compute/v1"
)

// authenticatedClient returns the HTTP client that carries the provider's
// credentials, chosen as the GCE provider chooses them:
//   - token-url = nil: no authentication (a local endpoint such as fake-gce);
//   - token-url set: a token obtained by POSTing token-body to it;
//   - a service-account key file (GOOGLE_APPLICATION_CREDENTIALS);
//   - otherwise the metadata server's token for the default service account.
//
// A nil client means no authentication. Tokens are never logged.
func authenticatedClient(ctx context.Context, cfg *Config) (*http.Client, error) {
	var ts oauth2.TokenSource
	switch {
	case cfg.TokenURL == "nil":
		return nil, nil
	case cfg.TokenURL != "":
		ts = &altTokenSource{url: cfg.TokenURL, body: cfg.TokenBody, client: &http.Client{Timeout: 30 * time.Second}}
	case cfg.CredentialsFile != "":
		data, err := os.ReadFile(cfg.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("credentials file (GOOGLE_APPLICATION_CREDENTIALS): %w", err)
		}
		creds, err := google.CredentialsFromJSONWithType(ctx, data, google.ServiceAccount, compute.ComputeScope)
		if err != nil {
			return nil, fmt.Errorf("credentials file %s (GOOGLE_APPLICATION_CREDENTIALS): %w", cfg.CredentialsFile, err)
		}
		ts = creds.TokenSource
	default:
		ts = google.ComputeTokenSource("", compute.ComputeScope)
	}
	return oauth2.NewClient(context.Background(), oauth2.ReuseTokenSource(nil, ts)), nil
}

// altTokenSource gets tokens from a token-url, the GCE provider's way for
// clusters whose credentials come from a token service: POST token-body,
// receive {"accessToken", "expireTime"} (or the OAuth2 form
// {"access_token", "expires_in"}).
type altTokenSource struct {
	url    string
	body   string
	client *http.Client
}

func (a *altTokenSource) Token() (*oauth2.Token, error) {
	resp, err := a.client.Post(a.url, "application/json", bytes.NewBufferString(a.body))
	if err != nil {
		return nil, fmt.Errorf("token-url: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("token-url %s answered %s", a.url, resp.Status)
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
