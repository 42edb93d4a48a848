package cloudconfig

import (
	"errors"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

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
	return !isLoopbackHost(u.Hostname())
}

// isLoopbackHost reports whether host is "localhost" or a loopback address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New(strconv.Quote(s) + " is not an http(s) URL")
	}
	return nil
}
