package nlb

import "fmt"

// ServiceError is a problem with the Service that the user must fix; it is
// reported as a Warning event and a LoadBalancerReady=False condition.
type ServiceError struct {
	Reason  string
	Message string
}

func (e *ServiceError) Error() string { return e.Message }

// ServiceProblem makes it an lbcondition.Problem.
func (e *ServiceError) ServiceProblem() (reason, message string) { return e.Reason, e.Message }

// ReasonNoSubnetwork: the load balancer takes an address from a subnetwork
// (an internal one, or an IPv6 one) and neither the Params nor the Service
// name it; the caller may find one and try again.
const ReasonNoSubnetwork = "NoSubnetwork"

func collision(kind, name string) error {
	return &ServiceError{Reason: "NameCollision", Message: fmt.Sprintf(
		"a %s named %s exists without this cluster's ownership marker; it is not ours to change: delete or rename it", kind, name)}
}
