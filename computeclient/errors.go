package computeclient

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
)

// Class is what a caller needs to know about a failed call.
type Class string

const (
	ClassNone               Class = "ok"
	ClassNotFound           Class = "not_found"
	ClassConflict           Class = "conflict"            // the resource already exists
	ClassPreconditionFailed Class = "precondition_failed" // a stale fingerprint
	ClassInUse              Class = "in_use"              // another resource uses it
	ClassQuota              Class = "quota"
	ClassRateLimited        Class = "rate_limited"
	ClassInvalid            Class = "invalid"
	ClassUnauthorized       Class = "unauthorized"
	ClassServer             Class = "server"
	ClassCanceled           Class = "canceled"
	ClassOther              Class = "other"
)

// OperationError is an operation that ended DONE with errors.
type OperationError struct {
	Operation  string
	HTTPStatus int64
	Codes      []string
	Message    string
}

func (e *OperationError) Error() string {
	return fmt.Sprintf("operation %s failed (%d %s): %s", e.Operation, e.HTTPStatus, strings.Join(e.Codes, ","), e.Message)
}

func operationError(op *compute.Operation) error {
	if op.Error == nil || len(op.Error.Errors) == 0 {
		return nil
	}
	e := &OperationError{Operation: op.Name, HTTPStatus: op.HttpErrorStatusCode}
	var msgs []string
	for _, it := range op.Error.Errors {
		e.Codes = append(e.Codes, it.Code)
		msgs = append(msgs, it.Message)
	}
	e.Message = strings.Join(msgs, "; ")
	return e
}

// Classify sorts an error from the compute API (an HTTP error or a failed
// operation) into a Class. The API's reasons are the ground for it: 412
// conditionNotMet for fingerprints, 400 resourceInUseByAnotherResource for
// deletes of used resources, 403 rateLimitExceeded vs quotaExceeded.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	if errors.Is(err, errCanceled) {
		return ClassCanceled
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		reason := ""
		if len(gerr.Errors) > 0 {
			reason = gerr.Errors[0].Reason
		}
		return classify(gerr.Code, reason, gerr.Message)
	}
	var operr *OperationError
	if errors.As(err, &operr) {
		code := ""
		if len(operr.Codes) > 0 {
			code = operr.Codes[0]
		}
		return classify(int(operr.HTTPStatus), code, operr.Message)
	}
	return ClassOther
}

func classify(status int, reason, message string) Class {
	r := strings.ToLower(strings.ReplaceAll(reason, "_", ""))
	switch {
	case strings.Contains(r, "ratelimit"):
		return ClassRateLimited
	case strings.Contains(r, "quota"):
		return ClassQuota
	case strings.Contains(r, "inusebyanotherresource") || strings.Contains(message, "is already being used by"):
		return ClassInUse
	case strings.Contains(r, "alreadyexists"): // alreadyExists, memberAlreadyExists
		return ClassConflict
	case strings.Contains(r, "notfound"): // notFound, memberNotFound
		return ClassNotFound
	case strings.Contains(r, "conditionnotmet"):
		return ClassPreconditionFailed
	}
	switch {
	case status == http.StatusNotFound:
		return ClassNotFound
	case status == http.StatusConflict:
		return ClassConflict
	case status == http.StatusPreconditionFailed:
		return ClassPreconditionFailed
	case status == http.StatusTooManyRequests:
		return ClassRateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ClassUnauthorized
	case status >= 500:
		return ClassServer
	case status == http.StatusBadRequest:
		return ClassInvalid
	}
	return ClassOther
}

// retryable reports whether a call that failed this way may succeed if sent
// again: server errors and rate limiting only. A 400, 404, 409 or 412 says
// something about the request or the state, which a retry does not change.
func retryable(err error) bool {
	switch Classify(err) {
	case ClassServer, ClassRateLimited:
		return true
	}
	return false
}

// IsNotFound and friends are shorthands for callers.
func IsNotFound(err error) bool           { return Classify(err) == ClassNotFound }
func IsConflict(err error) bool           { return Classify(err) == ClassConflict }
func IsPreconditionFailed(err error) bool { return Classify(err) == ClassPreconditionFailed }
func IsInUse(err error) bool              { return Classify(err) == ClassInUse }
