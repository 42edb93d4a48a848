package fakegce

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzSchemas are the request schemas FuzzDecodeBody decodes against, chosen
// by the fuzzer's first argument.
var fuzzSchemas = []string{"Firewall", "Instance", "ForwardingRule"}

// FuzzDecodeBody feeds arbitrary request bodies to the router's decoder. A body
// is either refused with a 4xx in the API's error shape, or accepted as an
// object that the store can render and that decodes again to itself.
// The seed corpus is in testdata/fuzz/FuzzDecodeBody.
func FuzzDecodeBody(f *testing.F) {
	rt, err := loadRouter()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), []byte(`{"name":"fw","network":"global/networks/default","allowed":[{"IPProtocol":"tcp","ports":["80","1000-2000"]}],"priority":1000}`))
	f.Add(uint8(1), []byte(`{"name":"vm","machineType":"zones/us-central1-a/machineTypes/e2-medium","networkInterfaces":[{"accessConfigs":[{}]}],"disks":[{"boot":true,"initializeParams":{"diskSizeGb":"10"}}]}`))
	f.Add(uint8(2), []byte(`{"name":"fr","IPProtocol":"TCP","portRange":"80","target":"regions/r/targetPools/p","labels":{"a":"b"}}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		schema := fuzzSchemas[int(which)%len(fuzzSchemas)]
		obj, err := rt.decodeBody(bytes.NewReader(body), schema)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Code < 400 || ae.Code > 499 || ae.Reason == "" || ae.Message == "" {
				t.Fatalf("decode %s refused %q with %#v, want a 4xx API error with a reason and message", schema, body, err)
			}
			return
		}
		// The store renders every accepted object to JSON; that must not fail.
		raw, err := json.Marshal(obj)
		if err != nil {
			t.Fatalf("decode %s accepted %q as an object that does not marshal: %v", schema, body, err)
		}
		again, err := rt.decodeBody(bytes.NewReader(raw), schema)
		if err != nil {
			t.Fatalf("decode %s accepted %q but refuses its own rendering %s: %v", schema, body, raw, err)
		}
		if diff := cmp.Diff(obj, again); diff != "" {
			t.Fatalf("decode %s of %q is not stable under re-decoding (-first +second):\n%s", schema, body, diff)
		}
	})
}
