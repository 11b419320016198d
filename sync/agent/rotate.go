package agent

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// RotateOptions configure Rotate.
type RotateOptions struct {
	DBPath  string // the kiosk database (the kiosk program must not run)
	KeyFile string // the kiosk's key; the new key replaces it
	Config  Config // the agent's configuration, without DB and Key
}

// Rotate re-enrols an enrolled kiosk: it gives the kiosk's log a new
// Ed25519 key. It pushes the whole log to HQ with the old key, appends a
// key.rotate entry signed by both keys (store.DB.RotateKey), pushes that
// entry alone, with the checkpoint that covers it signed by both keys,
// in a request signed by the old key, and once HQ has pinned the new key
// replaces KeyFile with it. From then on HQ refuses the old key.
//
// The new key waits in KeyFile+".next" until HQ took the rotation: if
// Rotate is interrupted, run it again and it finishes the same rotation.
// It returns the database, open with the new key, and an agent for it.
func Rotate(ctx context.Context, o RotateOptions) (*store.DB, *Agent, error) {
	old, err := LoadKey(o.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("rotate: %w", err)
	}
	nextFile := o.KeyFile + ".next"
	next, err := LoadKey(nextFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		_, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			return nil, nil, err
		}
		skey, k, err := namedKey(old.Signer.Name(), priv)
		if err != nil {
			return nil, nil, fmt.Errorf("rotate: %w", err)
		}
		if err := writeKey(nextFile, skey); err != nil {
			return nil, nil, fmt.Errorf("rotate: %w", err)
		}
		next = k
	case err != nil:
		return nil, nil, fmt.Errorf("rotate: %w", err)
	}
	if next.Signer.Name() != old.Signer.Name() {
		return nil, nil, fmt.Errorf("rotate: %s names log %q, not %q", nextFile, next.Signer.Name(), old.Signer.Name())
	}

	db, err := store.Open(ctx, o.DBPath, store.Options{Logger: o.Config.Logger})
	if err != nil {
		return nil, nil, err
	}
	cur, err := db.VerifierKey()
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, fmt.Errorf("rotate: %w", err)
	}
	switch cur {
	case old.Signer.VerifierKey:
		// Not rotated yet: HQ first gets everything signed by the old key.
		if err := pushAll(ctx, o, old); err != nil {
			return nil, nil, err
		}
		db, err := store.Open(ctx, o.DBPath, store.Options{Signer: old.Signer, Logger: o.Config.Logger})
		if err != nil {
			return nil, nil, err
		}
		_, _, err = db.RotateKey(ctx, next.Signer)
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, nil, fmt.Errorf("rotate: %w", err)
		}
	case next.Signer.VerifierKey:
		// Rotated in the log by an earlier run; HQ may not know yet.
	default:
		return nil, nil, fmt.Errorf("rotate: the log's key is neither %s nor %s", o.KeyFile, nextFile)
	}

	db, err = store.Open(ctx, o.DBPath, store.Options{Signer: next.Signer, Logger: o.Config.Logger})
	if err != nil {
		return nil, nil, err
	}
	cfg := o.Config
	cfg.DB, cfg.Key = db, next
	a, err := New(ctx, cfg)
	if err == nil {
		err = a.pushRotation(ctx, old)
	}
	if err == nil {
		err = replaceKey(nextFile, o.KeyFile)
	}
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	a.log.Info("kiosk key rotated", "origin", next.Signer.Name(), "verifier", next.Signer.VerifierKey)
	return db, a, nil
}

// pushAll pushes the whole log with the old key.
func pushAll(ctx context.Context, o RotateOptions, old *Key) error {
	db, err := store.Open(ctx, o.DBPath, store.Options{Signer: old.Signer, Logger: o.Config.Logger})
	if err != nil {
		return err
	}
	defer db.Close()
	cfg := o.Config
	cfg.DB, cfg.Key = db, old
	a, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	if _, err := a.Push(ctx); err != nil {
		return fmt.Errorf("rotate: HQ must hold the log before the key changes: %w", err)
	}
	return nil
}

// pushRotation sends HQ the newest key.rotate entry alone, with the
// checkpoint that covers it (signed by both keys), in a request signed by
// the old key; when HQ has already pinned the new key (an earlier answer
// was lost), the same push signed by the new key is an identical resend.
func (a *Agent) pushRotation(ctx context.Context, old *Key) error {
	keys, err := a.db.Keys()
	if err != nil {
		return err
	}
	if len(keys) < 2 {
		return errors.New("rotate: the log has no key.rotate entry")
	}
	index := keys[len(keys)-1].From - 1
	st, err := a.db.SyncState(ctx)
	if err != nil {
		return err
	}
	if st.AckedSize > index {
		return nil // HQ took it
	}
	if st.AckedSize < index {
		return fmt.Errorf("rotate: HQ holds %d entries, not the %d before the key.rotate entry", st.AckedSize, index)
	}
	cp, err := a.db.RotationCheckpoint(ctx, index)
	if err != nil {
		return err
	}
	entries, err := a.db.ReadEntries(index, index+1)
	if err != nil {
		return err
	}
	req := wire.PushRequest{V: wire.Minor, OldSize: index, Entries: entries, Checkpoint: cp}
	status, rb, err := a.doAs(ctx, old, http.MethodPost, wire.PathPush, req)
	if err == nil && status == http.StatusUnauthorized {
		status, rb, err = a.do(ctx, http.MethodPost, wire.PathPush, req)
	}
	if err != nil {
		return fmt.Errorf("rotate: push key.rotate: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("rotate: HQ answered %d to the key.rotate entry: %s", status, errorText(rb))
	}
	var pr wire.PushResponse
	if err := json.Unmarshal(rb, &pr); err != nil {
		return fmt.Errorf("rotate: malformed answer: %w", err)
	}
	if err := a.keepCosigned(ctx, pr.Cosigned, index+1); err != nil {
		return err
	}
	return a.db.SetAcked(ctx, index+1, index+1)
}

// replaceKey moves the new key over the old one and makes the move last.
func replaceKey(next, keyFile string) error {
	if err := os.Rename(next, keyFile); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	d, err := os.Open(filepath.Dir(keyFile))
	if err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	return nil
}
