package agent

import "testing"

// errorText reads HQ's one error body, an HQ of minor version 0's body,
// and anything else as the start of its text.
func TestErrorText(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"error": {"code": "invalid", "message": "heartbeat door: must be open, closed or empty"}}`, "heartbeat door: must be open, closed or empty"},
		{`{"v": 0, "code": "unauthorized", "error": "replayed request"}`, "replayed request"},
		{"<html>502 Bad Gateway</html>\n", "<html>502 Bad Gateway</html>"},
		{`{"error": {"code": "internal"}}`, `{"error": {"code": "internal"}}`},
	} {
		if got := errorText([]byte(c.body)); got != c.want {
			t.Errorf("errorText(%q) = %q, want %q", c.body, got, c.want)
		}
	}
}
