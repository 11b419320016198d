package hqload

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq/kioskapi"
	"keycab.dev/keycab/hq/store"
	kstore "keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
	"keycab.dev/keycab/sync/wire"
)

// ingester grows the history the way the service does (Config.Ingest):
// HQ's kiosk API on a loopback server, each kiosk enrolled through it
// with its own key, its events appended to its own signed log (a kiosk
// database) and pushed by the sync agent, so that every event reaches HQ
// through the push path: request and checkpoint signatures checked, the
// tree's root recomputed, the leaves decoded and recorded.
type ingester struct {
	st     *store.Store
	srv    *httptest.Server
	dir    string
	kiosks map[string]*ingestKiosk // by HQ's kiosk id
}

type ingestKiosk struct {
	db  *kstore.DB
	key *agent.Key
	now time.Time // the kiosk database's clock: the event being appended
}

func newIngester(st *store.Store) (*ingester, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	cosigner, err := wire.NewCosigner("bench.keycab.test/cosigner", priv, time.Now)
	if err != nil {
		return nil, err
	}
	skey, _, err := note.GenerateKey(rand.Reader, "bench.keycab.test/config")
	if err != nil {
		return nil, err
	}
	cfgSigner, err := audit.ParseSignerKey(skey)
	if err != nil {
		return nil, err
	}
	h, err := kioskapi.New(kioskapi.Config{Store: st, Cosigner: cosigner, ConfigSigner: cfgSigner, OriginPrefix: "bench.keycab.test/kiosk/"})
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "keycab-bench-kiosks-")
	if err != nil {
		return nil, err
	}
	return &ingester{st: st, srv: httptest.NewServer(h), dir: dir, kiosks: map[string]*ingestKiosk{}}, nil
}

// Close stops the server and removes the kiosks' databases.
func (in *ingester) Close() error {
	in.srv.Close()
	for _, k := range in.kiosks {
		k.db.Close()
	}
	return os.RemoveAll(in.dir)
}

// enrol enrols a kiosk named name for the cabinet, as the organisation's
// owner hands out the token and the kiosk redeems it.
func (in *ingester) enrol(ctx context.Context, own store.Scope, cabinetID, name string) error {
	token, _, err := in.st.CreateEnrolToken(ctx, own, cabinetID, 0)
	if err != nil {
		return err
	}
	dir := filepath.Join(in.dir, fmt.Sprintf("kiosk%d", len(in.kiosks)))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dir, "kiosk.db")
	db, err := kstore.Open(ctx, path, kstore.Options{Create: true})
	if err != nil {
		return err
	}
	peer, key, err := agent.Enrol(ctx, db, agent.EnrolOptions{HQ: in.srv.URL, Token: token, KeyFile: filepath.Join(dir, "kiosk.key"), Name: name})
	db.Close()
	if err != nil {
		return fmt.Errorf("enrol %s: %w", name, err)
	}
	k := &ingestKiosk{key: key}
	if k.db, err = kstore.Open(ctx, path, kstore.Options{Signer: key.Signer, Now: func() time.Time { return k.now }}); err != nil {
		return err
	}
	in.kiosks[peer.KioskID] = k
	return nil
}

// record appends events (in log order, from the kiosk log's size) to the
// kiosk's log as the kiosk would have written them.
func (in *ingester) record(ctx context.Context, kioskID string, evs []store.Event) error {
	k := in.kiosks[kioskID]
	if k == nil {
		return fmt.Errorf("kiosk %s was not enrolled by this run", kioskID)
	}
	recs := make([]kstore.Record, len(evs))
	for i, e := range evs {
		ae := &audit.Event{Kind: e.Kind, Time: e.At.UnixMilli(), Actor: e.ActorID, KeySet: e.KeySetID}
		if !e.DueAt.IsZero() {
			ae.Due = e.DueAt.UnixMilli()
		}
		if e.Kind == keycab.EventAlarmRaised {
			ae.Detail = map[string]string{"alarm": e.Detail}
		}
		recs[i] = kstore.Record{Event: ae}
	}
	k.now = evs[len(evs)-1].At
	_, err := k.db.Append(ctx, recs...)
	return err
}

// push sends the kiosk's log to HQ until HQ holds and has cosigned all
// of it.
func (in *ingester) push(ctx context.Context, kioskID string) (int64, error) {
	k := in.kiosks[kioskID]
	a, err := agent.New(ctx, agent.Config{DB: k.db, Key: k.key})
	if err != nil {
		return 0, err
	}
	return a.Push(ctx)
}
