package api_test

import (
	"bytes"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"keycab.dev/keycab/hq/api"
)

var update = flag.Bool("update", false, "rewrite docs/openapi.json from the served document")

// contractFile is the API's published contract: the document HQ serves,
// as committed.
const contractFile = "../../docs/openapi.json"

// TestOpenAPIContract: the document HQ serves is the committed contract
// (docs/openapi.json), byte for byte. A change of a typed body (a field
// renamed, added or dropped, a type changed) changes the generated
// document and fails here until the contract is rewritten on purpose:
//
//	go test ./hq/api -run TestOpenAPIContract -update
//
// so no API change reaches clients without showing in a diff of the
// contract. (That the handlers answer what the document says is hq's
// TestOpenAPIDrift.)
func TestOpenAPIContract(t *testing.T) {
	served := servedDocument(t)
	if *update {
		if err := os.WriteFile(contractFile, served, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	committed, err := os.ReadFile(contractFile)
	if err != nil {
		t.Fatalf("%v (write it with -update)", err)
	}
	if !bytes.Equal(served, committed) {
		sl, cl := bytes.Split(served, []byte("\n")), bytes.Split(committed, []byte("\n"))
		for i := 0; i < max(len(sl), len(cl)); i++ {
			var s, c []byte
			if i < len(sl) {
				s = sl[i]
			}
			if i < len(cl) {
				c = cl[i]
			}
			if !bytes.Equal(s, c) {
				t.Fatalf("the served OpenAPI document differs from %s at line %d:\n  served:    %s\n  committed: %s\nan API change must update the contract on purpose: go test ./hq/api -run TestOpenAPIContract -update", contractFile, i+1, s, c)
			}
		}
	}
}

// servedDocument returns what the API answers to GET /openapi.json.
func servedDocument(tb testing.TB) []byte {
	tb.Helper()
	mux := http.NewServeMux()
	if err := (&api.API{}).Register(mux); err != nil {
		tb.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if rec.Code != 200 {
		tb.Fatalf("GET /openapi.json: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}
