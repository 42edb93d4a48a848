// Package lbcondition is the LoadBalancerReady Service condition: its type,
// the reasons more than one writer gives, the interface through which an
// error says it is the user's to fix, and the note a served Service can
// still carry.
//
// Each load balancer mode has one writer of the condition: the service
// controller (servicecontroller) for the external mode, the nodeip
// controller for nodeip. The provider writes nothing to the Kubernetes API;
// it returns errors that implement Problem, and the writer turns them into
// the condition and a Warning event. This package imports nothing of the
// project, so that the service controller, the provider, nodeip and the
// trace can all read it without importing one another; it must never
// write anything itself.
package lbcondition

import "errors"

// Type is the condition's type. True says the load balancer is as the
// Service asks; False, with its reason and message, says what to change.
const Type = "LoadBalancerReady"

// Reasons that more than one mode gives, or that the service controller
// gives itself.
const (
	// ReasonProvisioned: the external load balancer is as the Service
	// asks.
	ReasonProvisioned = "Provisioned"
	// ReasonInvalidSetting: an annotation or field of the Service has a
	// value this project refuses.
	ReasonInvalidSetting = "InvalidServiceSetting"
	// ReasonQuotaExceeded: the project's quota stops the load balancer
	// from being complete.
	ReasonQuotaExceeded = "QuotaExceeded"
)

// MessageProvisioned is the message of a True condition with
// ReasonProvisioned and no note.
const MessageProvisioned = "The load balancer is as the Service asks."

// Problem is an error that the Service's owner must fix (a bad annotation,
// an address another Service owns) or that the project's quota causes: it
// says the condition's reason and message. Other errors (the cloud API
// failing) are retried without touching the condition.
type Problem interface {
	error
	ServiceProblem() (reason, message string)
}

// ProblemOf finds a Problem in err's chain and returns what it says.
func ProblemOf(err error) (reason, message string, ok bool) {
	var p Problem
	if !errors.As(err, &p) {
		return "", "", false
	}
	reason, message = p.ServiceProblem()
	return reason, message, true
}

// QuotaError is a cloud API error caused by the project's quota: a problem
// of the Service's owner in that only they (or the project's) can raise it
// or free resources, though the Service itself is fine.
type QuotaError struct{ Err error }

func (e *QuotaError) Error() string { return e.Err.Error() }
func (e *QuotaError) Unwrap() error { return e.Err }

// ServiceProblem quotes the API's own message, which names the quota.
func (e *QuotaError) ServiceProblem() (string, string) {
	return ReasonQuotaExceeded, "the project's quota is used up, so the load balancer is incomplete until it is raised or resources are removed: " + e.Err.Error()
}

// Note is what a Service whose load balancer is as asked is still told:
// something its own settings leave closed. The zero Note says nothing.
type Note struct {
	Reason  string
	Message string
	// Blocking: the Service serves no client at all, so the condition is
	// False although the load balancer is built.
	Blocking bool
}
