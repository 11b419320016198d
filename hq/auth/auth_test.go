package auth_test

import (
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/auth"
)

// TestTOTPVectors checks RFC 6238 Appendix B (SHA-1, 8 digits) and
// RFC 4226 Appendix D (6 digits).
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		want string
	}{{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"}, {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}} {
		if got := auth.HOTP(secret, uint64(v.unix/30), 8); got != v.want {
			t.Errorf("T=%d: %s, want %s", v.unix, got, v.want)
		}
	}
	for i, want := range []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"} {
		if got := auth.HOTP(secret, uint64(i), 6); got != want {
			t.Errorf("HOTP counter %d: %s, want %s", i, got, want)
		}
	}
}

func TestCheckTOTP(t *testing.T) {
	secret := auth.NewTOTPSecret()
	now := time.Unix(1_800_000_000, 0)
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		if step, ok := auth.CheckTOTP(secret, auth.TOTPCode(secret, now.Add(d)), now); !ok || step != auth.TOTPStep(now.Add(d)) {
			t.Errorf("code of %v: step %d ok %t", d, step, ok)
		}
	}
	if _, ok := auth.CheckTOTP(secret, auth.TOTPCode(secret, now.Add(-90*time.Second)), now); ok {
		t.Error("a code three steps old was accepted")
	}
	if _, ok := auth.CheckTOTP(secret, "12345", now); ok {
		t.Error("a 5-digit code was accepted")
	}
	if u := auth.TOTPURI("keycab", "a@b.test", secret); !strings.HasPrefix(u, "otpauth://totp/keycab:a@b.test?") || !strings.Contains(u, "secret="+auth.TOTPKey(secret)) {
		t.Errorf("uri %s", u)
	}
}

// TestCheckPassword: ASVS length rules, no composition rules, the block
// list.
func TestCheckPassword(t *testing.T) {
	if n := auth.BlockListSize(); n < 10000 {
		t.Fatalf("block list has %d passwords, want at least 10000", n)
	}
	for _, p := range []string{"password", "PASSWORD", "12345678", "qwertyuiop", "iloveyou", "baseball", "football1", "sunshine"} {
		if err := auth.CheckPassword(p); keycab.ErrorCode(err) != keycab.EINVALID {
			t.Errorf("%q: %v, want refused as common", p, err)
		}
	}
	for _, p := range []string{"short", "1234567", "ab cd e"} {
		if err := auth.CheckPassword(p); keycab.ErrorCode(err) != keycab.EINVALID {
			t.Errorf("%q: %v, want refused as short", p, err)
		}
	}
	for _, p := range []string{"lowercaseonlybutlong", "correct horse battery staple", "ñandú-über-straße", strings.Repeat("x", 64) + "y", strings.Repeat("long passphrase ", 15)} {
		if err := auth.CheckPassword(p); err != nil {
			t.Errorf("%q: %v, want accepted", p, err)
		}
	}
	if err := auth.CheckPassword(strings.Repeat("z", auth.MaxPasswordLen+1)); err == nil {
		t.Error("an over-long password was accepted")
	}
}
