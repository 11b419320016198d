package wire_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/sync/wire"
)

func samplePass() wire.Pass {
	at := time.Unix(1_800_000_000, 0).UTC()
	return wire.Pass{ID: "ps_1", OrgID: "org", MemberID: "m-cara", KeySetIDs: []string{"ks-1", "ks-2"},
		NotBefore: at.Unix(), NotAfter: at.Add(8 * time.Hour).Unix(), IssuedAt: at.Add(-time.Hour).Unix()}
}

func TestPassRoundTrip(t *testing.T) {
	hq, vkey := mustSigner(t)
	p := samplePass()
	code, err := wire.SignPass(p, hq)
	if err != nil {
		t.Fatal(err)
	}
	if !wire.IsPass(code) || len(code) > 400 {
		t.Fatalf("code %d bytes: %s", len(code), code)
	}
	again, _ := wire.SignPass(p, hq)
	if again != code {
		t.Fatal("the same pass signed twice differs (Ed25519 is deterministic: a reprint must match)")
	}
	got, err := wire.OpenPass(code, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != p.ID || got.MemberID != p.MemberID || strings.Join(got.KeySetIDs, ",") != "ks-1,ks-2" || got.NotAfter != p.NotAfter {
		t.Fatalf("round trip %+v", got)
	}
	if d := got.Pass(); !d.ValidAt(time.Unix(p.NotBefore, 0)) || d.ValidAt(time.Unix(p.NotAfter, 0)) || !d.Covers("ks-2") || d.Covers("ks-3") {
		t.Fatalf("domain pass %+v", d)
	}
}

func TestPassForgedOrDamaged(t *testing.T) {
	hq, vkey := mustSigner(t)
	rogue, _ := mustSigner(t)
	p := samplePass()
	code, err := wire.SignPass(p, hq)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := wire.SignPass(p, rogue)
	if err != nil {
		t.Fatal(err)
	}
	body, sig, _ := strings.Cut(strings.TrimPrefix(code, wire.PassPrefix), ".")
	js, _ := base64.RawURLEncoding.DecodeString(body)
	wider := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(js), `"ks-2"`, `"ks-3"`, 1)))
	cases := map[string]struct{ code, want string }{
		"another key":     {forged, "signature does not verify"},
		"altered bytes":   {wire.PassPrefix + wider + "." + sig, "signature does not verify"},
		"truncated":       {code[:len(code)-10], "damaged or cut short"},
		"no signature":    {wire.PassPrefix + body, "damaged or cut short"},
		"NUL byte":        {code[:30] + "\x00" + code[31:], "damaged or cut short"},
		"garbage":         {wire.PassPrefix + "%%%.%%%", "damaged or cut short"},
		"not a pass":      {"BADGE-ANA", "not a keycab pass"},
		"too long":        {wire.PassPrefix + strings.Repeat("A", wire.MaxPassCode), "too long"},
		"empty signature": {wire.PassPrefix + body + ".", "damaged or cut short"},
	}
	for name, c := range cases {
		_, err := wire.OpenPass(c.code, vkey)
		if err == nil || keycab.ErrorCode(err) != keycab.EINVALID || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want EINVALID %q", name, err, c.want)
		}
	}
	if _, err := wire.OpenPass(code, "not a key"); err == nil {
		t.Error("opened with no key")
	}
}

// FuzzOpenPass: whatever is scanned, OpenPass answers a pass or an
// EINVALID error, never a panic, and never a pass it did not sign.
func FuzzOpenPass(f *testing.F) {
	hq, vkey := mustSigner(f)
	code, err := wire.SignPass(samplePass(), hq)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{code, code[:40], wire.PassPrefix, wire.PassPrefix + ".", "x\x00y", code + "=", strings.ToUpper(code)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := wire.OpenPass(s, vkey)
		if err != nil {
			if keycab.ErrorCode(err) != keycab.EINVALID {
				t.Fatalf("%q: %v is not EINVALID", s, err)
			}
			return
		}
		if p.ID != "ps_1" {
			t.Fatalf("%q opened as a pass HQ never signed: %+v", s, p)
		}
	})
}
