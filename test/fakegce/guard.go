package fakegce

import (
	"net"
	"net/http"
	"strings"
)

// fake-gce runs as a CI service, sometimes on a shared network, and a browser
// on the same machine can reach its loopback port. The guard refuses what no
// test client sends but an outsider can:
//   - a Host header naming neither a loopback name, an IP address nor an
//     allowed name: a DNS-rebinding page reaches the port under its own name
//     (https://en.wikipedia.org/wiki/DNS_rebinding); an IP address cannot be
//     rebound, so any is accepted, which also covers the listen address;
//   - a cross-origin state-changing request (a web page's form POST to
//     /admin/v1/reset), by net/http's CrossOriginProtection (Sec-Fetch-Site,
//     then Origin against Host);
//   - with a required token, an admin request without it: the admin API can
//     read and wipe everything the compute API guards.
// /healthz stays open for readiness probes.

func (s *Server) guard(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusForbidden, "forbidden", "Cross-origin %s requests are refused.", r.Method))
	}))
	inner := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host) {
			writeError(w, errorf(http.StatusForbidden, "forbidden", "Host %q is not served here; start fake-gce with --allowed-host to serve it.", r.Host))
			return
		}
		if strings.HasPrefix(r.URL.Path, "/admin/") {
			if err := s.authorize(r); err != nil {
				writeError(w, err)
				return
			}
		}
		inner.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether a request's Host header names this server: a
// loopback name, an IP address, or one of Config.AllowedHosts. An empty Host
// (HTTP/1.0) is accepted: browsers always send one.
func (s *Server) hostAllowed(hostport string) bool {
	host := canonicalHost(hostport)
	if host == "" || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if net.ParseIP(host) != nil {
		return true
	}
	for _, h := range s.cfg.AllowedHosts {
		if canonicalHost(h) == host {
			return true
		}
	}
	return false
}

// canonicalHost is host without its port, brackets and trailing dot, in lower case.
func canonicalHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	return strings.ToLower(host)
}
