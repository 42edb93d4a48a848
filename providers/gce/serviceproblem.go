package gce

import (
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nlb"
)

// The provider writes nothing to the Kubernetes API. What a reconcile of an
// external Service tells its owner travels in the error it returns: an
// lbcondition.Problem (nlb.ServiceError, annotations.Error, a quota error)
// becomes the LoadBalancerReady condition and a Warning event, written by
// the service controller.

// withQuotaProblem returns err, wrapped in an lbcondition.QuotaError when
// the project's quota caused it (computeclient.Classify) and it says
// nothing of its own yet: the service controller cannot classify compute
// API errors, which it must not import.
func withQuotaProblem(err error) error {
	if err == nil {
		return nil
	}
	if _, _, ok := lbcondition.ProblemOf(err); ok {
		return err
	}
	if computeclient.Classify(err) == computeclient.ClassQuota {
		return &lbcondition.QuotaError{Err: err}
	}
	return err
}

// LoadBalancerNote is what an external Service whose load balancer is as
// asked is still told: its source ranges leave one of its IP families, or
// all, without clients (nlb.SourcesNoteOf). The command gives it to the
// service controller, which writes it with the condition.
func LoadBalancerNote(svc *v1.Service) lbcondition.Note {
	n := nlb.SourcesNoteOf(svc)
	return lbcondition.Note{Reason: n.Reason, Message: n.Message, Blocking: n.Blocking}
}
