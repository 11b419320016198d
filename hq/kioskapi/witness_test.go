package kioskapi_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/hq/witness"
	"keycab.dev/keycab/sync/wire"
)

// specWitness is a C2SP tlog-witness as the spec reads today (another
// root at the size it cosigned is a 422; with legacy, a 409 with no size,
// as witnesses before the spec's July 2026 text answer), written here
// from the spec alone: it checks the kiosk's signature, the old size and
// the RFC 6962 consistency proof (tlog.CheckTree), and cosigns with
// cosignature/v1. answer, when set, is the status it gives instead.
type specWitness struct {
	t        *testing.T
	cosigner *wire.Cosigner
	verifier note.Verifier // the kiosk log's key

	mu       sync.Mutex
	size     int64
	root     tlog.Hash
	answer   int
	legacy   bool
	requests int
}

func (w *specWitness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests++
	if r.Method != http.MethodPost || r.URL.Path != "/add-checkpoint" {
		http.NotFound(rw, r)
		return
	}
	if w.answer != 0 {
		rw.WriteHeader(w.answer)
		return
	}
	br := bufio.NewReader(r.Body)
	line, _ := br.ReadString('\n')
	old, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(line, "old "), "\n"), 10, 64)
	if err != nil || !strings.HasPrefix(line, "old ") {
		rw.WriteHeader(http.StatusBadRequest)
		return
	}
	var proof tlog.TreeProof
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		if l == "\n" {
			break
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(l, "\n"))
		if err != nil || len(b) != tlog.HashSize {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		proof = append(proof, tlog.Hash(b))
	}
	msg, _ := io.ReadAll(br)
	n, err := note.Open(msg, note.VerifierList(w.verifier))
	if err != nil {
		rw.WriteHeader(http.StatusForbidden)
		return
	}
	cp, err := audit.ParseCheckpoint(n.Text)
	if err != nil || old > cp.Size {
		rw.WriteHeader(http.StatusBadRequest)
		return
	}
	conflict := func() {
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", w.size)
	}
	switch {
	case old != w.size:
		conflict()
		return
	case old == cp.Size && w.size > 0 && cp.Root != w.root:
		if w.legacy {
			rw.WriteHeader(http.StatusConflict)
		} else {
			rw.WriteHeader(http.StatusUnprocessableEntity)
		}
		return
	case old > 0 && old < cp.Size:
		if err := tlog.CheckTree(proof, cp.Size, cp.Root, old, w.root); err != nil {
			rw.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
	case len(proof) > 0:
		rw.WriteHeader(http.StatusUnprocessableEntity)
		return
	}
	signed, err := wire.Cosign(msg, w.cosigner)
	if err != nil {
		w.t.Error(err)
		return
	}
	w.size, w.root = cp.Size, cp.Root
	rw.Write(signed[len(msg):]) // the cosignature line
	// And one by a key the client does not know, which it must ignore.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := wire.NewCosigner("witness.test/unknown", priv, nil)
	signed, _ = wire.Cosign(msg, other)
	rw.Write(signed[len(msg):])
}

func (w *specWitness) set(f func(w *specWitness)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(w)
}

// TestWitnessSender runs HQ's witness sender against a witness written
// from the spec: 404, 403 and a failing witness (backed off), cosignatures
// kept and handed to the kiosk, the log grown with a consistency proof,
// and a split view (the witness cosigned another root at the size HQ
// holds) refused with 422, or by a witness of the spec before July 2026
// with a 409 naming no size, and kept as evidence with an alarm.
func TestWitnessSender(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(map[bool]string{false: "spec", true: "legacy"}[legacy], func(t *testing.T) { witnessSender(t, legacy) })
	}
}

func witnessSender(t *testing.T, legacy bool) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		MustAppend(t, k.db, h, 10, "a")
		_, err := k.a.Push(ctx)
		MustNoErr(t, err)
		v := must[note.Verifier](t)(k.db.Verifier())

		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		fw := &specWitness{t: t, cosigner: must[*wire.Cosigner](t)(wire.NewCosigner("witness.test/spec", priv, nil)), verifier: v, legacy: legacy}
		srv := httptest.NewServer(fw)
		t.Cleanup(srv.Close)
		w := must[*witness.Witness](t)(witness.Parse(srv.URL + "=" + fw.cosigner.VerifierKey()))
		var clock time.Time // the senders' clock, moved by the test
		sender := func() *witness.Sender {
			return must[*witness.Sender](t)(witness.New(h.s, nil, witness.Config{Witnesses: []*witness.Witness{w}, Interval: time.Hour,
				Now: func() time.Time { return clock }}))
		}
		state := func() hqstore.WitnessState {
			t.Helper()
			for _, l := range must[[]hqstore.WitnessLog](t)(h.s.KioskLogs().WitnessLogs(ctx)) {
				if l.KioskID == k.peer.KioskID {
					return l.State[w.Name()]
				}
			}
			t.Fatal("no witness log for the kiosk")
			return hqstore.WitnessState{}
		}

		for _, c := range []struct {
			status int
			want   string
		}{{http.StatusNotFound, "unknown log"}, {http.StatusForbidden, "no trusted signature"}} {
			fw.set(func(w *specWitness) { w.answer = c.status })
			MustNoErr(t, sender().Pass(ctx))
			if st := state(); st.Status != c.want || st.Size != 0 {
				t.Fatalf("after %d: state %+v, want %q", c.status, st, c.want)
			}
		}
		// A checkpoint the witness declined (404) is not offered again
		// for ten intervals, then it is.
		fw.set(func(w *specWitness) { w.answer = http.StatusNotFound; w.requests = 0 })
		d := sender()
		MustNoErr(t, d.Pass(ctx))
		MustNoErr(t, d.Pass(ctx))
		if fw.requests != 1 {
			t.Fatalf("%d requests for a checkpoint the witness declined, want 1", fw.requests)
		}
		clock = clock.Add(10 * time.Hour)
		MustNoErr(t, d.Pass(ctx))
		if fw.requests != 2 {
			t.Fatalf("%d requests ten intervals on, want 2", fw.requests)
		}
		// A failing witness is backed off: the next pass within the
		// interval sends nothing, one after it sends again, and the next
		// failure doubles the wait.
		fw.set(func(w *specWitness) { w.answer = http.StatusInternalServerError; w.requests = 0 })
		s := sender()
		for _, c := range []struct {
			after time.Duration
			want  int
		}{{0, 1}, {59 * time.Minute, 1}, {time.Minute, 2}, {time.Hour, 2}, {time.Hour, 3}} {
			clock = clock.Add(c.after)
			MustNoErr(t, s.Pass(ctx))
			if fw.requests != c.want {
				t.Fatalf("%v on: %d requests to a failing witness, want %d", c.after, fw.requests, c.want)
			}
		}

		// It cosigns: HQ keeps it, serves it with the checkpoint, and the
		// kiosk keeps it from the heartbeat.
		fw.set(func(w *specWitness) { w.answer = 0 })
		s = sender()
		MustNoErr(t, s.Pass(ctx))
		kl := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID))
		if st := state(); st.Status != "cosigned" || st.Size != kl.Size || fw.size != kl.Size {
			t.Fatalf("state %+v, witness at %d, HQ at %d", st, fw.size, kl.Size)
		}
		if _, err := wire.VerifyCosignature(kl.Cosigned, fw.cosigner.VerifierKey()); err != nil {
			t.Fatalf("HQ's checkpoint carries no witness cosignature: %v\n%s", err, kl.Cosigned)
		}
		if _, err := wire.VerifyCosignature(kl.Cosigned, h.cosign.VerifierKey()); err != nil {
			t.Fatalf("HQ's checkpoint lost HQ's cosignature: %v", err)
		}
		if bytes.Contains(kl.Cosigned, []byte("witness.test/unknown")) {
			t.Fatalf("HQ kept a cosignature by a key it does not know:\n%s", kl.Cosigned)
		}
		hr, err := k.a.Heartbeat(ctx)
		MustNoErr(t, err)
		if len(hr.Witnessed) != 1 {
			t.Fatalf("heartbeat hands on %d witnessed checkpoints, want 1", len(hr.Witnessed))
		}
		kept := false
		for _, c := range must[[][]byte](t)(k.db.Cosigned(ctx)) {
			if _, err := wire.VerifyCosignature(c, fw.cosigner.VerifierKey()); err == nil {
				kept = true
			}
		}
		if !kept {
			t.Fatal("the kiosk keeps no witness cosignature")
		}
		requests := fw.requests
		MustNoErr(t, s.Pass(ctx))
		if fw.requests != requests {
			t.Fatal("HQ sent the witness a checkpoint it cosigned already")
		}

		// The log grows: sent with the consistency proof from its size.
		MustAppend(t, k.db, h, 7, "b")
		_, err = k.a.Push(ctx)
		MustNoErr(t, err)
		MustNoErr(t, s.Pass(ctx))
		kl = must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID))
		if st := state(); st.Status != "cosigned" || st.Size != kl.Size {
			t.Fatalf("after growth: state %+v, HQ at %d", st, kl.Size)
		}

		// A split view: the witness was shown another checkpoint of the
		// size HQ holds now. It answers 422 (a legacy witness 409 with
		// no size); HQ is refused and keeps the evidence.
		MustAppend(t, k.db, h, 3, "c")
		_, err = k.a.Push(ctx)
		MustNoErr(t, err)
		kl = must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID))
		fw.set(func(w *specWitness) { w.size, w.root = kl.Size, tlog.Hash{1} })
		MustNoErr(t, s.Pass(ctx))
		if st := state(); st.Status != hqstore.WitnessStatusRefused {
			t.Fatalf("after the split view: state %+v", st)
		}
		evs := must[[]hqstore.Evidence](t)(h.s.KioskLogs().ListEvidence(ctx, h.own(), k.peer.KioskID))
		if len(evs) != 1 || !bytes.Equal(evs[0].Ours, kl.Checkpoint) || !strings.Contains(evs[0].What, map[bool]string{false: "422: another root", true: "409: another root"}[legacy]) {
			t.Fatalf("evidence %+v", evs)
		}
		alarms := must[[]hqstore.Alarm](t)(h.s.ListAlarms(ctx, h.own(), true))
		if len(alarms) != 1 || alarms[0].Alarm != keycab.AlarmEquivocation || alarms[0].LogIndex != kl.Size {
			t.Fatalf("alarms %+v", alarms)
		}
		requests = fw.requests
		MustNoErr(t, s.Pass(ctx))
		if fw.requests != requests {
			t.Fatal("HQ kept sending a log the witness refused")
		}
		// The kiosk's pushes go on: HQ does not quarantine it.
		MustAppend(t, k.db, h, 1, "d")
		_, err = k.a.Push(ctx)
		MustNoErr(t, err)
	})
}
