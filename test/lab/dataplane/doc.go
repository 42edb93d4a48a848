// Package dataplane is the packet lab's VPC: it turns fake-gce's state into
// nftables rules, policy routes and kernel routes inside the lab's vpc network
// namespace, keeps them current as the state changes, and probes backends the
// way GCE's health checkers do.
//
// It implements what the lab contract (docs/lab.md) lists: 1:1 NAT of
// instances' external addresses, passthrough forwarding rules to healthy
// backends, the ingress firewall with GCE's evaluation order, and the VPC's
// routes. The work is split the way every reconcile in this repository is:
// observe (the compute API, through the official client), Compile (pure: State
// in, Plan out), then apply (one atomic nftables batch, and netlink for rules
// and routes).
//
// It must never touch a namespace other than the one it is given, nor any
// nftables table, ip rule or route it did not create there (its own are
// recognisable: the table cpv_vpc, rule priority 100, route protocol 201), and
// it never sends a packet outside that namespace's links.
package dataplane
