package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"keycab.dev/keycab/kiosk/wiring"
	"keycab.dev/keycab/store"
)

// parseBackupFlags reads the flags of backup and restore.
func (m *Main) parseBackupFlags(args []string) error {
	fs := flag.NewFlagSet("keycab-kiosk "+m.Config.Command, flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	fs.StringVar(&m.Config.Wiring, "wiring", m.Config.Wiring, "the cabinet's wiring `file`, which names the data directory")
	fs.StringVar(&m.Config.DataDir, "data", m.Config.DataDir, "the kiosk's data `directory` (default: the wiring file's)")
	if m.Config.Command == "backup" {
		fs.StringVar(&m.Config.Out, "out", "", "the backup `file` to write (must not exist)")
	} else {
		fs.StringVar(&m.Config.From, "from", "", "the backup `file` to restore")
		fs.BoolVar(&m.Config.Force, "force", false, "move the data directory's database and key aside (into replaced-TIME/) first")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: keycab-kiosk backup --out FILE [--data DIR | --wiring FILE]
       keycab-kiosk restore --from FILE [--force] [--data DIR | --wiring FILE]

backup copies the kiosk database while the kiosk runs (no signing key in it).
restore makes a new database from a backup: the backup's log is verified and
kept under DIR/epochs/, and the kiosk, enrolled again, starts a new log whose
first entry (log.epoch) names the old one.

flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if m.Config.Command == "backup" && m.Config.Out == "" {
		return errors.New("backup needs --out FILE")
	}
	if m.Config.Command == "restore" && m.Config.From == "" {
		return errors.New("restore needs --from FILE")
	}
	return nil
}

// resolveDataDir fills in the data directory from the wiring file when no
// --data was given.
func (m *Main) resolveDataDir() error {
	if m.Config.DataDir != "" {
		return nil
	}
	if m.Config.Sim {
		m.Config.DataDir = "keycab-demo"
		return nil
	}
	w, err := wiring.Load(m.Config.Wiring)
	if err != nil {
		return fmt.Errorf("the data directory: give --data DIR or a wiring file: %w", err)
	}
	m.Config.DataDir = w.DataDir
	return nil
}

// backup writes a consistent copy of the kiosk database to --out.
func (m *Main) backup(ctx context.Context) error {
	if err := m.resolveDataDir(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	db, err := m.openSealed(ctx, filepath.Join(m.Config.DataDir, "kiosk.db"))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer db.Close()
	if err := db.Backup(ctx, m.Config.Out); err != nil {
		return err
	}
	origin, _ := db.Origin()
	m.log.Info("kiosk backed up", "data", m.Config.DataDir, "out", m.Config.Out, "origin", origin, "entries", db.Size())
	fmt.Fprintf(m.stdout, "backed up %s (log %s, %d entries) to %s\n", m.Config.DataDir, origin, db.Size(), m.Config.Out)
	return nil
}

// openSealed opens the kiosk database read-only (the kiosk may be running)
// once a signed head covers every entry in it: a running kiosk signs one
// within store.DefaultSealDelay of an append, so this waits a little for
// it rather than back up entries nothing proves (a restore names only the
// signed part of a backup). After a few seconds it takes the database as
// it is, and says so.
func (m *Main) openSealed(ctx context.Context, path string) (*store.DB, error) {
	for try := 0; ; try++ {
		db, err := store.Open(ctx, path, store.Options{ReadOnly: true, Logger: m.log})
		if err != nil {
			return nil, err
		}
		_, head, err := db.Head(ctx)
		if (err == nil && head == db.Size()) || errors.Is(err, store.ErrNoLog) {
			return db, nil
		}
		if try == 30 {
			m.log.Warn("backup: the newest entries have no signed head yet; a restore of this backup names only the signed part",
				"entries", db.Size(), "signed", head, "err", err)
			return db, nil
		}
		db.Close()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// restore makes the data directory's database from the backup --from.
func (m *Main) restore(ctx context.Context) error {
	if err := m.resolveDataDir(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	dir := m.Config.DataDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	live := []string{"kiosk.db", "kiosk.db-wal", "kiosk.db-shm", filepath.Base(store.MarkPath("kiosk.db")), "kiosk.key"}
	var present []string
	for _, name := range live {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			present = append(present, name)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore: %w", err)
		}
	}
	if len(present) > 0 && !m.Config.Force {
		return fmt.Errorf("restore: %s holds a kiosk (%v): stop the kiosk, then give --force to move it aside", dir, present)
	}
	if len(present) > 0 {
		aside := filepath.Join(dir, "replaced-"+time.Now().UTC().Format("20060102T150405Z"))
		if err := os.Mkdir(aside, 0o700); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		for _, name := range present {
			if err := os.Rename(filepath.Join(dir, name), filepath.Join(aside, name)); err != nil {
				return fmt.Errorf("restore: %w", err)
			}
		}
		m.log.Info("moved the kiosk's database and key aside", "to", aside)
		fmt.Fprintf(m.stdout, "moved %v aside into %s\n", present, aside)
	}
	ep, err := store.Restore(ctx, m.Config.From, filepath.Join(dir, "kiosk.db"), filepath.Join(dir, "epochs"), store.Options{Logger: m.log})
	if err != nil {
		return err
	}
	m.log.Info("kiosk restored; a new log epoch begins at enrolment", "from", m.Config.From, "prev_origin", ep.PrevOrigin,
		"prev_size", ep.PrevSize, "prev_kiosk", ep.PrevKiosk, "custody", ep.Custody, "archive", ep.Archive)
	fmt.Fprintf(m.stdout, "restored %s from %s: log %s, %d entries (root %s), %d cosigned by HQ, %d key sets out\n",
		dir, m.Config.From, ep.PrevOrigin, ep.PrevSize, ep.PrevRoot, ep.PrevCosigned, ep.Custody)
	fmt.Fprintf(m.stdout, "the old log is kept, read-only, at %s (keycab audit verify --db %s)\n", ep.Archive, ep.Archive)
	hq := ep.HQURL
	if hq == "" {
		hq = "URL"
	}
	fmt.Fprintf(m.stdout, "enrol this kiosk again to start its new log: keycab-kiosk enroll --hq %s --token T --data %s\n", hq, dir)
	if ep.PrevKiosk != "" {
		fmt.Fprintf(m.stdout, "then revoke the old kiosk %s at HQ: its key is gone with this restore\n", ep.PrevKiosk)
	}
	return nil
}
