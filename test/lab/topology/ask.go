package topology

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"
)

// Ask sends one HTTP request, as a new TCP connection from inside
// namespace ns (from source address src when it is valid), to an echo
// server at addr (host:port), and returns its answer.
func Ask(ctx context.Context, ns string, src netip.Addr, addr string) (Echo, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		return Echo{}, err
	}
	resp, err := HTTPClient(ns, src, 2*time.Second).Do(req)
	if err != nil {
		return Echo{}, fmt.Errorf("ask %s from %s (%v): %w", addr, ns, src, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Echo{}, fmt.Errorf("ask %s from %s (%v): read: %w", addr, ns, src, err)
	}
	var e Echo
	if err := json.Unmarshal(body, &e); err != nil {
		return Echo{}, fmt.Errorf("ask %s from %s (%v): %s: %q", addr, ns, src, resp.Status, body)
	}
	return e, nil
}
