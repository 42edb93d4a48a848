package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// podNetwork gives each pod sandbox of the fake runtime an IP address of the
// node's pod CIDR, as a CNI plugin with host-local IPAM would, instead of the
// fake runtime's one address for every pod (FakePodSandboxIPs in
// k8s.io/cri-api/pkg/apis/testing). The kubelet hands the runtime the pod
// CIDR through UpdateRuntimeConfig once the Node has spec.podCIDR
// (updatePodCIDR in pkg/kubelet/kubelet_network.go), which it does on its
// next node status sync, seconds after kube-controller-manager set it; a
// sandbox made before that asks the API for the Node's pod CIDR. Without a
// pod CIDR, and when it is used up, a sandbox keeps the fake address. No
// network namespace is made: the address is a name in the pod's status only.
type podNetwork struct {
	internalapi.RuntimeService
	// nodePodCIDRs reads the Node's spec.podCIDRs.
	nodePodCIDRs func(context.Context) ([]string, error)

	mu       sync.Mutex
	prefix   netip.Prefix
	next     netip.Addr
	assigned map[string]netip.Addr // sandbox ID -> address
	used     map[netip.Addr]bool
}

func newPodNetwork(rs internalapi.RuntimeService, nodePodCIDRs func(context.Context) ([]string, error)) *podNetwork {
	return &podNetwork{RuntimeService: rs, nodePodCIDRs: nodePodCIDRs, assigned: map[string]netip.Addr{}, used: map[netip.Addr]bool{}}
}

// UpdateRuntimeConfig takes the first IPv4 pod CIDR the kubelet passes.
func (p *podNetwork) UpdateRuntimeConfig(ctx context.Context, c *runtimeapi.RuntimeConfig) error {
	if cidrs := c.GetNetworkConfig().GetPodCidr(); cidrs != "" {
		if err := p.takeFirstIPv4(strings.Split(cidrs, ",")); err != nil {
			return err
		}
	}
	return p.RuntimeService.UpdateRuntimeConfig(ctx, c)
}

func (p *podNetwork) takeFirstIPv4(cidrs []string) error {
	for _, s := range cidrs {
		prefix, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("pod CIDR %q: %w", s, err)
		}
		if prefix.Addr().Is4() {
			p.setPrefix(prefix.Masked())
			return nil
		}
	}
	return nil
}

func (p *podNetwork) hasPrefix() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.prefix.IsValid()
}

func (p *podNetwork) setPrefix(prefix netip.Prefix) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prefix == prefix {
		return
	}
	// The network address and the first host (the node's bridge, by the
	// convention of kubenet and the bridge CNI plugin) are never given out.
	p.prefix, p.next = prefix, prefix.Addr().Next().Next()
}

// RunPodSandbox assigns the new sandbox an address.
func (p *podNetwork) RunPodSandbox(ctx context.Context, config *runtimeapi.PodSandboxConfig, runtimeHandler string) (string, error) {
	id, err := p.RuntimeService.RunPodSandbox(ctx, config, runtimeHandler)
	if err != nil {
		return id, err
	}
	if !p.hasPrefix() {
		cidrs, err := p.nodePodCIDRs(ctx)
		if err != nil {
			return "", fmt.Errorf("read the node's pod CIDR for sandbox %s: %w", id, err)
		}
		if err := p.takeFirstIPv4(cidrs); err != nil {
			return "", err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.assigned[id]; !ok {
		if addr, ok := p.allocate(); ok {
			p.assigned[id], p.used[addr] = addr, true
		}
	}
	return id, nil
}

// allocate takes the next free address of the pod CIDR, wrapping around
// once; the broadcast address is never given out.
func (p *podNetwork) allocate() (netip.Addr, bool) {
	if !p.prefix.IsValid() {
		return netip.Addr{}, false
	}
	first := p.prefix.Addr().Next().Next()
	size := 1 << (32 - p.prefix.Bits())
	for range size {
		a := p.next
		if !p.prefix.Contains(a) || !p.prefix.Contains(a.Next()) {
			a = first // past the last host address
		}
		p.next = a.Next()
		if !p.used[a] {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// PodSandboxStatus reports the sandbox's own address.
func (p *podNetwork) PodSandboxStatus(ctx context.Context, id string, verbose bool) (*runtimeapi.PodSandboxStatusResponse, error) {
	resp, err := p.RuntimeService.PodSandboxStatus(ctx, id, verbose)
	if err != nil || resp.GetStatus().GetNetwork() == nil {
		return resp, err
	}
	p.mu.Lock()
	addr, ok := p.assigned[id]
	p.mu.Unlock()
	if ok {
		resp.Status.Network.Ip = addr.String()
		resp.Status.Network.AdditionalIps = nil
	}
	return resp, nil
}

// RemovePodSandbox frees the sandbox's address.
func (p *podNetwork) RemovePodSandbox(ctx context.Context, id string) error {
	if err := p.RuntimeService.RemovePodSandbox(ctx, id); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if addr, ok := p.assigned[id]; ok {
		delete(p.assigned, id)
		delete(p.used, addr)
	}
	return nil
}
