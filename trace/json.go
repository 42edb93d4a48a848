package trace

import (
	"encoding/json"
	"io"
)

// WriteJSON writes the trace as one indented JSON object; docs/trace.md
// documents its fields.
func WriteJSON(w io.Writer, t *Trace) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}
