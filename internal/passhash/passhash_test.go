package passhash_test

import (
	"errors"
	"strings"
	"testing"

	"keycab.dev/keycab/internal/passhash"
)

var fast = passhash.Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	h, err := passhash.Hash("4711", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if err := passhash.Verify(h, "4711"); err != nil {
		t.Fatal(err)
	}
	if err := passhash.Verify(h, "4712"); !errors.Is(err, passhash.ErrMismatch) {
		t.Fatalf("wrong PIN: %v", err)
	}
	h2, _ := passhash.Hash("4711", fast)
	if h2 == h {
		t.Fatal("two hashes of one secret are equal: no salt")
	}
	if !passhash.NeedsRehash(h, passhash.OWASP) || passhash.NeedsRehash(h, fast) {
		t.Fatal("NeedsRehash wrong")
	}
	for _, bad := range []string{"", "4711", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		if err := passhash.Verify(bad, "4711"); err == nil || errors.Is(err, passhash.ErrMismatch) {
			t.Errorf("Verify(%q) = %v, want a malformed-hash error", bad, err)
		}
	}
}
