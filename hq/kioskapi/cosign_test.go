package kioskapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"keycab.dev/keycab/audit"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/sync/wire"
)

// pushRaw sends a signed push of a checkpoint of size with no entries
// (a resend) and returns the status and the decoded answer.
func pushRaw(t *testing.T, h *hq, k *kiosk, size int64) (int, wire.PushResponse) {
	t.Helper()
	ctx := context.Background()
	root := must[[32]byte](t)(k.db.TreeRoot(ctx, size))
	cp := must[[]byte](t)(audit.SignCheckpoint(audit.Checkpoint{Origin: k.peer.Origin, Size: size, Root: root}, k.key.Signer))
	body := must[[]byte](t)(json.Marshal(wire.PushRequest{V: wire.Minor, OldSize: size, Checkpoint: cp}))
	req := must[*http.Request](t)(http.NewRequest(http.MethodPost, h.srv.URL+wire.PathPush, bytes.NewReader(body)))
	wire.SignRequest(req, body, k.peer.OrgID, k.peer.KioskID, k.key.Private, time.Now())
	res := must[*http.Response](t)(http.DefaultClient.Do(req))
	defer res.Body.Close()
	var pr wire.PushResponse
	raw := must[[]byte](t)(io.ReadAll(res.Body))
	if err := json.Unmarshal(raw, &pr); err != nil {
		t.Fatalf("push answer %d %q: %v", res.StatusCode, raw, err)
	}
	return res.StatusCode, pr
}

// HQ cosigns as a C2SP tlog-witness does: a resent checkpoint of HQ's
// newest size gets the cosignature HQ already gave it (no fresh time),
// and an older one is never cosigned again: 409 with HQ's size and its
// newest cosigned checkpoint.
func TestResentCheckpoint(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		MustAppend(t, k.db, h, 40, "a")
		_, err := k.a.Push(ctx)
		MustNoErr(t, err)
		older := k.db.Size()
		MustAppend(t, k.db, h, 40, "b")
		_, err = k.a.Push(ctx)
		MustNoErr(t, err)
		kl := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID))
		if kl.Size <= older || len(kl.Cosigned) == 0 {
			t.Fatalf("HQ holds %+v", kl)
		}

		h.cosignAhead.Store(int64(time.Hour)) // a fresh cosignature would carry a later time
		status, pr := pushRaw(t, h, k, kl.Size)
		if status != http.StatusOK || !bytes.Equal(pr.Cosigned, kl.Cosigned) || pr.Size != kl.Size {
			t.Fatalf("resend of the newest checkpoint: %d size %d, cosigned afresh: %v", status, pr.Size, !bytes.Equal(pr.Cosigned, kl.Cosigned))
		}
		status, pr = pushRaw(t, h, k, older)
		if status != http.StatusConflict || pr.Size != kl.Size || !bytes.Equal(pr.Cosigned, kl.Cosigned) {
			t.Fatalf("resend of an older checkpoint: %d, size %d, want 409 with %d and HQ's stored cosignature", status, pr.Size, kl.Size)
		}
		if _, err := wire.VerifyCosignature(pr.Cosigned, h.cosign.VerifierKey()); err != nil {
			t.Fatal(err)
		}
		// The agent resumes from a 409 without error.
		MustNoErr(t, k.db.SetAcked(ctx, older, older))
		_, err = k.a.Push(ctx)
		MustNoErr(t, err)
		MustSameHistory(t, h, k)
	})
}
