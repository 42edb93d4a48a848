// Package firewall keeps a cluster's VPC firewall rules at a desired state.
//
// Both load balancer modes (the external network load balancer and nodeip)
// describe the rules a Service needs as Rule values, built by pure functions
// of their own. This package normalises them (Normalize), compares them with
// the rules the API holds (Diff, pure), carries out the difference (Apply) and
// removes the rules of Services that no longer exist (CollectGarbage).
//
// firewall never patches or deletes a rule that lacks this cluster's name
// prefix and ownership marker (see package ownership), whatever its name: a
// desired rule whose name is taken by a foreign rule is a Conflict reported to
// the caller, never an overwrite. Apply reads every rule again right before it
// patches or deletes it, so that the check holds at the moment of the call and
// not only when the plan was made. Diff deletes only the rules of one
// Service made by one mode (Scope), so neither mode removes the other's.
package firewall
