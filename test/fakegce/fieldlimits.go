package fakegce

import "unicode/utf8"

// maxDescriptionChars is the longest description a resource may have.
// Guess: the discovery document (compute-api.json) states no limit and no
// transcript in the fixtures shows the API refusing one; 2,048 characters is
// the commonly cited Compute Engine figure, unconfirmed. What matters here is
// that there is a bound: without one every request could store up to the body
// limit (maxBodyBytes) in the state and the state file.
const maxDescriptionChars = 2048

// checkFieldLengths refuses a request body whose description is longer than
// the API allows. Names are bounded by the RFC 1035 check (validName, 63
// characters).
func checkFieldLengths(body map[string]any) error {
	d, ok := body["description"].(string)
	if !ok {
		return nil
	}
	if n := utf8.RuneCountInString(d); n > maxDescriptionChars {
		return invalid("Invalid value for field 'resource.description': the value is %d characters long. Must be at most %d characters.", n, maxDescriptionChars)
	}
	return nil
}
