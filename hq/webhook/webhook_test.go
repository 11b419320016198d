package webhook_test

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"keycab.dev/keycab/hq/webhook"
)

// Sign matches the Standard Webhooks project's own library, one
// signature per secret.
func TestSign(t *testing.T) {
	secrets := []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_" + strings.Repeat("A", 43) + "="}
	ts := time.Unix(1_700_000_000, 0)
	body := []byte(`{"type":"webhook.test","data":{}}`)
	got, err := webhook.Sign(secrets, "msg_1", ts, body)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Fields(got)
	if len(parts) != 2 {
		t.Fatalf("signature header %q", got)
	}
	for i, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		want, err := wh.Sign("msg_1", ts, body)
		if err != nil {
			t.Fatal(err)
		}
		if parts[i] != want {
			t.Errorf("secret %d: %s, the library %s", i, parts[i], want)
		}
		h := http.Header{"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {"1700000000"}, "Webhook-Signature": {got}}
		if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
			t.Errorf("secret %d: %v", i, err)
		}
	}
	for _, bad := range [][]string{nil, {"whsec_not base64!"}, {"whsec_"}} {
		if _, err := webhook.Sign(bad, "msg_1", ts, body); err == nil {
			t.Errorf("signed with %q", bad)
		}
	}
}

// Guard refuses every address that is not public unicast, IPv4 in IPv6
// included, unless the allow-list names it.
func TestGuard(t *testing.T) {
	g := webhook.Guard{}
	for _, a := range []string{"127.0.0.1", "127.9.9.9", "::1", "169.254.169.254", "fe80::1", "10.0.0.1", "172.16.5.4", "192.168.1.1",
		"fc00::1", "fd12:3456::1", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "100.64.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
		"192.0.2.1", "2001:db8::1", "64:ff9b::7f00:1", "2002:7f00:1::1", "255.255.255.255"} {
		if err := g.Check(netip.MustParseAddr(a)); !errors.Is(err, webhook.ErrRefused) {
			t.Errorf("%s: %v", a, err)
		}
	}
	for _, a := range []string{"93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "8.8.8.8"} {
		if err := g.Check(netip.MustParseAddr(a)); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	allow, err := webhook.ParseAllow(" 10.1.0.0/16, 127.0.0.1 ,fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	g = webhook.Guard{Allow: allow}
	for _, a := range []string{"10.1.2.3", "127.0.0.1", "::ffff:127.0.0.1", "fd00::5"} {
		if err := g.Check(netip.MustParseAddr(a)); err != nil {
			t.Errorf("allowed %s: %v", a, err)
		}
	}
	for _, a := range []string{"10.2.0.1", "127.0.0.2", "::1", "169.254.169.254"} {
		if err := g.Check(netip.MustParseAddr(a)); err == nil {
			t.Errorf("%s passed an allow-list that does not name it", a)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.1-10.0.0.9"} {
		if _, err := webhook.ParseAllow(bad); err == nil {
			t.Errorf("ParseAllow(%q)", bad)
		}
	}
}
