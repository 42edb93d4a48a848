package fakegce

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is an error in the shape every Google API returns:
// {"error":{"code":N,"message":"...","errors":[{"domain":"global","reason":"...","message":"..."}]}}.
// google.golang.org/api decodes it into *googleapi.Error, so callers can switch on
// Code and Errors[0].Reason exactly as they do against the real service.
type apiError struct {
	Code    int
	Reason  string
	Message string
	// inOperation: the API does not refuse the request but accepts it and
	// ends its operation DONE with this error, the resource unchanged
	// (see mutate).
	inOperation bool
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message) }

// reportedInOperation is the error as the API reports it for this request:
// through the operation, not in the answer.
func (e *apiError) reportedInOperation() *apiError {
	out := *e
	out.inOperation = true
	return &out
}

func errorf(code int, reason, format string, args ...any) *apiError {
	return &apiError{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

func notFound(resource string) *apiError {
	return errorf(http.StatusNotFound, "notFound", "The resource '%s' was not found", resource)
}

func alreadyExists(resource string) *apiError {
	return errorf(http.StatusConflict, "alreadyExists", "The resource '%s' already exists", resource)
}

func invalid(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "invalid", format, args...)
}

func required(field string) *apiError {
	return errorf(http.StatusBadRequest, "required", "Required field '%s' not specified", field)
}

func invalidValue(field string, value any, why string) *apiError {
	return invalid("Invalid value for field '%s': '%v'. %s", field, value, why)
}

// inUse is what the compute API answers when a delete would leave another
// resource pointing at nothing. Upstream clients recognise it by 400 and
// "being used by": kubernetes/cloud-provider-gcp providers/gce/gce_util.go
// (isInUsedByError) and kubernetes/ingress-gce pkg/utils/utils.go
// (IsInUsedByError).
//
// The API refuses some such deletes in its answer and fails others in the
// operation; inUseInOperation are the kinds it fails in the operation, by
// collection: a network (the terraform provider's "Error waiting for
// Deleting Network: The network resource '…' is already being used by '…'",
// GoogleCloudPlatform/terraform-google-three-tier-web-app#167; "Operation
// error: The network resource …", genevieve/leftovers#6) and an HTTP health
// check used by a target pool ("Delete: Operation error: The
// http_health_check resource … is already being used by …",
// genevieve/leftovers#19). A subnetwork (genevieve/leftovers#6) and a health
// check (terraform-google-modules/terraform-google-lb-internal#19) are
// refused in the answer, "googleapi: Error 400".
var inUseInOperation = map[string]bool{"networks": true, "httpHealthChecks": true}

func inUse(kind, resource, user string) *apiError {
	return errorf(http.StatusBadRequest, "resourceInUseByAnotherResource",
		"The %s resource '%s' is already being used by '%s'", kind, resource, user)
}

// fingerprintMismatch is 412 conditionNotMet, as the discovery document's
// BackendService.fingerprint and Metadata.fingerprint describe a stale one.
func fingerprintMismatch(what string) *apiError {
	return errorf(http.StatusPreconditionFailed, "conditionNotMet",
		"Supplied fingerprint does not match current %s fingerprint.", what)
}

type errorItem struct {
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

type errorBody struct {
	Error struct {
		Code    int         `json:"code"`
		Message string      `json:"message"`
		Errors  []errorItem `json:"errors"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	var b errorBody
	b.Error.Code = e.Code
	b.Error.Message = e.Message
	b.Error.Errors = []errorItem{{Domain: "global", Reason: e.Reason, Message: e.Message}}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.Code)
	json.NewEncoder(w).Encode(b)
}

// asAPIError turns any error into the API's shape; errors that are not already
// API errors are the server's own fault and answer 500.
func asAPIError(err error) *apiError {
	if e, ok := err.(*apiError); ok {
		return e
	}
	return errorf(http.StatusInternalServerError, "backendError", "Internal error: %v", err)
}
