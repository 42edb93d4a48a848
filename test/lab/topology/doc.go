// Package topology builds the packet lab's network (docs/lab.md, the lab
// contract): Linux network namespaces for the VPC router, a client and the
// nodes, veth links with the contract's addresses and routes, a management
// bridge in the host namespace through which the nodes reach kube-apiserver,
// pods as namespaces with an echo server, and a real kube-proxy in each
// node's namespace.
//
// Every name it makes starts with a per-run prefix that encodes the owning
// test process (PrefixFor), so a later run can find and remove what a crashed
// one left behind (CleanLeftovers). It never touches a namespace or link
// without such a prefix, adds no route to the host namespace but the
// management bridge's own subnet, and refuses a subnet that overlaps a route
// the host already has; it programs no VPC behaviour: NAT,
// load balancing and firewalls in the vpc namespace are the data plane's
// (test/lab/dataplane).
package topology
