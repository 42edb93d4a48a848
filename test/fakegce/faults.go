package fakegce

import (
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"time"
)

// MaxFaultLatency bounds a fault rule's latency: long enough to outlast any
// client deadline a test sets, short enough that a rule cannot pin requests
// and their connections for hours.
const MaxFaultLatency = 5 * time.Minute

// FaultRule injects a failure into matching compute requests. A rule matches
// when Method (an HTTP verb such as "POST", or an API method id such as
// "compute.firewalls.insert"; empty for any) and Path (a regular expression
// searched in the URL path; empty for any) both match. It then fires with
// Probability (0 means always) while Count allows (0 means no limit; otherwise
// only the next Count firings). Firing adds Latency, then answers Code
// (with Reason and Message) or, with FailOperation, accepts the request and
// ends its operation DONE with that error and the resource unchanged.
type FaultRule struct {
	Method        string  `json:"method,omitempty"`
	Path          string  `json:"path,omitempty"`
	Code          int     `json:"code,omitempty"`
	Reason        string  `json:"reason,omitempty"`
	Message       string  `json:"message,omitempty"`
	Latency       string  `json:"latency,omitempty"`
	FailOperation bool    `json:"failOperation,omitempty"`
	Probability   float64 `json:"probability,omitempty"`
	Count         int     `json:"count,omitempty"`

	pathRE  *regexp.Regexp
	latency time.Duration
	fired   int
}

func (f *FaultRule) compile() error {
	if f.Path != "" {
		re, err := regexp.Compile(f.Path)
		if err != nil {
			return fmt.Errorf("path %q: %v", f.Path, err)
		}
		f.pathRE = re
	}
	if f.Latency != "" {
		d, err := time.ParseDuration(f.Latency)
		if err != nil || d < 0 {
			return fmt.Errorf("latency %q: want a duration such as 200ms", f.Latency)
		}
		if d > MaxFaultLatency {
			return fmt.Errorf("latency %q: at most %v (a rule must not hold requests, and their connections, for hours)", f.Latency, MaxFaultLatency)
		}
		f.latency = d
	}
	if f.Code == 0 && f.latency == 0 {
		return fmt.Errorf("a rule needs a code or a latency")
	}
	if f.FailOperation && f.Code == 0 {
		f.Code = http.StatusInternalServerError
	}
	if f.Code != 0 && (f.Code < 400 || f.Code > 599) {
		return fmt.Errorf("code %d: want an HTTP error status (400-599)", f.Code)
	}
	if f.Probability < 0 || f.Probability > 1 {
		return fmt.Errorf("probability %v: want a number from 0 to 1", f.Probability)
	}
	if f.Count < 0 {
		return fmt.Errorf("count %d: must not be negative", f.Count)
	}
	if f.Reason == "" {
		f.Reason = defaultReason(f.Code)
	}
	if f.Message == "" && f.Code != 0 {
		f.Message = "Injected fault: " + http.StatusText(f.Code)
	}
	return nil
}

func defaultReason(code int) string {
	switch code {
	case 0:
		return ""
	case 400:
		return "invalid"
	case 401:
		return "authError"
	case 403, 429:
		return "rateLimitExceeded"
	case 404:
		return "notFound"
	case 409:
		return "alreadyExists"
	case 412:
		return "conditionNotMet"
	case 503:
		return "backendError"
	}
	return "internalError"
}

func (f *FaultRule) apiError() *apiError {
	return &apiError{Code: f.Code, Reason: f.Reason, Message: f.Message}
}

type faultSet struct {
	mu    sync.Mutex
	rules []*FaultRule
}

// newFaultSet takes rules that were compiled by Config.validate.
func newFaultSet(rules []FaultRule) *faultSet {
	fs := &faultSet{}
	for i := range rules {
		r := rules[i]
		fs.rules = append(fs.rules, &r)
	}
	return fs
}

func (fs *faultSet) replace(rules []FaultRule) error {
	compiled := make([]*FaultRule, 0, len(rules))
	for i := range rules {
		r := rules[i]
		if err := r.compile(); err != nil {
			return fmt.Errorf("rule %d: %v", i, err)
		}
		compiled = append(compiled, &r)
	}
	fs.mu.Lock()
	fs.rules = compiled
	fs.mu.Unlock()
	return nil
}

func (fs *faultSet) list() []FaultRule {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make([]FaultRule, 0, len(fs.rules))
	for _, r := range fs.rules {
		out = append(out, *r)
	}
	return out
}

// match returns a copy of the first rule that fires for the request, or nil.
func (fs *faultSet) match(method, path, methodID string, random func() float64) *FaultRule {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, r := range fs.rules {
		if r.Method != "" && r.Method != method && r.Method != methodID {
			continue
		}
		if r.pathRE != nil && !r.pathRE.MatchString(path) {
			continue
		}
		if r.Count > 0 && r.fired >= r.Count {
			continue
		}
		if r.Probability > 0 && random() >= r.Probability {
			continue
		}
		r.fired++
		c := *r
		return &c
	}
	return nil
}
