package lbcondition

import (
	"errors"
	"fmt"
	"testing"
)

type settingError struct{}

func (settingError) Error() string                    { return "bad" }
func (settingError) ServiceProblem() (string, string) { return ReasonInvalidSetting, "change it" }

func TestProblemOf(t *testing.T) {
	for _, tc := range []struct {
		name            string
		err             error
		reason, message string
		ok              bool
	}{
		{name: "no error is no problem"},
		{name: "an error that says nothing is no problem", err: errors.New("503")},
		{name: "a problem is found through wrapping", err: fmt.Errorf("ensure: %w", settingError{}),
			reason: ReasonInvalidSetting, message: "change it", ok: true},
		{name: "a quota error quotes the API", err: &QuotaError{Err: errors.New("Quota 'X' exceeded.")}, reason: ReasonQuotaExceeded,
			message: "the project's quota is used up, so the load balancer is incomplete until it is raised or resources are removed: Quota 'X' exceeded.", ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, message, ok := ProblemOf(tc.err)
			if reason != tc.reason || message != tc.message || ok != tc.ok {
				t.Errorf("ProblemOf = %q, %q, %v; want %q, %q, %v", reason, message, ok, tc.reason, tc.message, tc.ok)
			}
		})
	}
}
