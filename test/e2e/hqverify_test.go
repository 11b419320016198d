package e2e_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// hqAuditVerify runs keycab audit verify on HQ's copy of the kiosk's log,
// fetched as tlog-tiles from HQ's API with the demo owner's sign-in:
// every hash recomputed, the kiosk's signature checked with the key the
// kiosk holds, and HQ's cosignature with the key the kiosk pinned.
func hqAuditVerify(t testing.TB, h *hq, env map[string]string, k *kiosk) {
	t.Helper()
	peer, _, vkey := kioskLogState(t, k)
	body, _ := json.Marshal(map[string]string{"email": env["KEYCAB_DEMO_EMAIL"], "password": env["KEYCAB_DEMO_PASSWORD"]})
	res, err := http.Post(h.url()+"/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var tokens struct {
		Access string `json:"access_token"`
	}
	err = json.NewDecoder(res.Body).Decode(&tokens)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || tokens.Access == "" {
		t.Fatalf("sign in as the demo owner: %d %v", res.StatusCode, err)
	}
	out := program(t, "keycab", "audit", "verify", "--tiles", h.url()+"/v1/kiosks/"+peer.KioskID+"/log",
		"--key", vkey, "--cosigner", peer.CosignerKey, "--token", tokens.Access)
	if !strings.HasPrefix(out, "ok:") || strings.Contains(out, "no cosignature checked") {
		t.Fatalf("%s: audit verify of HQ's copy: %s", k.name, out)
	}
	t.Logf("%s at HQ: %s", k.name, strings.TrimSpace(out))
}
