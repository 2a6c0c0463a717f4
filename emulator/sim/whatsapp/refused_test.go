package whatsapp

import (
	"net/http"
	"testing"
)

// A call outside the Graph API's routes is answered as the Graph API does and
// counted, so the end-to-end tests can hold the bridge's calls to the
// specification.
func TestStats_CountCallsOutsideTheSpecification(t *testing.T) {
	f := newFixture(t)
	if st, _ := f.call(http.MethodPost, "/"+DefaultVersion+"/"+DefaultPhoneID+"/carrier_pigeons", "application/json", []byte(`{}`)); st != http.StatusBadRequest {
		t.Fatalf("unknown path answered %d", st)
	}
	if st, _ := f.call(http.MethodGet, "/v1.0/"+DefaultPhoneID+"/messages", "", nil); st != http.StatusBadRequest {
		t.Fatalf("another version answered %d", st)
	}
	var out struct {
		Refused map[string]int `json:"refused"`
	}
	if st := f.control(http.MethodGet, "/_sim/whatsapp/stats", nil, &out); st != http.StatusOK {
		t.Fatalf("stats: %d", st)
	}
	if len(out.Refused) != 2 || out.Refused["POST /"+DefaultVersion+"/"+DefaultPhoneID+"/carrier_pigeons"] != 1 {
		t.Fatalf("refused %v, want the two calls", out.Refused)
	}
}
