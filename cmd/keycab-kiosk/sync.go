package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"keycab.dev/keycab/hardware/input"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/wiring"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
	"keycab.dev/keycab/sync/wire"
)

// enroll enrols this kiosk with HQ, then fetches its first config and
// pushes the log's first entries.
func (m *Main) enroll(ctx context.Context) error {
	if m.Config.DataDir == "" {
		if m.Config.Sim {
			m.Config.DataDir = "keycab-demo"
		} else {
			w, err := wiring.Load(m.Config.Wiring)
			if err != nil {
				return fmt.Errorf("enroll: the data directory: give --data DIR or a wiring file: %w", err)
			}
			m.Config.DataDir = w.DataDir
		}
	}
	if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
		return err
	}
	dbPath, keyPath := filepath.Join(m.Config.DataDir, "kiosk.db"), filepath.Join(m.Config.DataDir, "kiosk.key")
	db, err := store.Open(ctx, dbPath, store.Options{Create: true, Logger: m.log})
	if err != nil {
		return err
	}
	if p, err := db.HQPeer(ctx); err == nil {
		db.Close()
		return m.rotate(ctx, dbPath, keyPath, p)
	}
	if origin, err := db.Origin(); err == nil {
		db.Close()
		return fmt.Errorf("enroll: %s already keeps a kiosk log (%s) of a kiosk that ran without HQ; enrolment starts a new log named by HQ: move the directory aside or enrol into another --data", m.Config.DataDir, origin)
	}
	if _, err := os.Stat(keyPath); err == nil {
		db.Close()
		return fmt.Errorf("enroll: %s holds a kiosk key but no log: move it aside first", keyPath)
	}
	name := m.Config.Name
	if name == "" {
		name, _ = os.Hostname()
	}
	peer, key, err := agent.Enrol(ctx, db, agent.EnrolOptions{HQ: m.Config.HQ, Token: m.Config.Token, KeyFile: keyPath, Name: name})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	m.log.Info("enrolled", "hq", peer.URL, "kiosk", peer.KioskID, "org", peer.OrgID, "cabinet", peer.CabinetID, "origin", peer.Origin)
	fmt.Fprintf(m.stdout, "enrolled with %s as kiosk %s (cabinet %s); log %s; key in %s\n", peer.URL, peer.KioskID, peer.CabinetID, peer.Origin, keyPath)
	if m.db, err = store.Open(ctx, dbPath, store.Options{Signer: key.Signer, Logger: m.log}); err != nil {
		return err
	}
	m.key = key
	if m.agent, err = agent.New(ctx, agent.Config{DB: m.db, Key: key, Logger: m.log.With("component", "sync"), Software: software()}); err != nil {
		return err
	}
	if err := m.firstConfig(ctx); err != nil {
		fmt.Fprintf(m.stdout, "no config from HQ yet (%v): the kiosk fetches it when it runs\n", err)
		return nil
	}
	v, err := m.db.ConfigVersion(ctx)
	if err != nil {
		return err
	}
	if _, err := m.agent.Push(ctx); err != nil {
		m.log.Warn("first push failed; the kiosk retries when it runs", "err", err)
	}
	fmt.Fprintf(m.stdout, "config version %d from HQ applied\n", v)
	return nil
}

// rotate re-enrols an enrolled kiosk: its log gets a new key, handed over
// by a key.rotate entry that HQ checks and pins (agent.Rotate); HQ
// refuses the old key from then on. The kiosk program must be stopped.
// The kiosk stays enrolled with the HQ it pinned: the old key, not a
// token, is the credential.
func (m *Main) rotate(ctx context.Context, dbPath, keyPath string, p store.HQPeer) error {
	if m.Config.HQ != "" && strings.TrimSuffix(m.Config.HQ, "/") != strings.TrimSuffix(p.URL, "/") {
		return fmt.Errorf("enroll: %s is enrolled with %s, not %s: enrol into a fresh --data to change HQ", m.Config.DataDir, p.URL, m.Config.HQ)
	}
	db, a, err := agent.Rotate(ctx, agent.RotateOptions{DBPath: dbPath, KeyFile: keyPath,
		Config: agent.Config{Logger: m.log.With("component", "sync"), Software: software()}})
	if err != nil {
		return fmt.Errorf("re-enroll: %w (run keycab-kiosk enroll again to finish)", err)
	}
	m.db, m.agent = db, a
	m.log.Info("re-enrolled: key rotated", "hq", p.URL, "kiosk", p.KioskID, "origin", p.Origin)
	fmt.Fprintf(m.stdout, "re-enrolled with %s as kiosk %s: log %s has a new key in %s; HQ refuses the old one from now on\n", p.URL, p.KioskID, p.Origin, keyPath)
	return nil
}

// runSync runs the sync agent until ctx ends, logging the sync state when
// it changes (at most every SyncLogEvery).
func (m *Main) runSync(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.agent.Run(ctx)
	}()
	every := m.Config.SyncLogEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var last [3]int64
	for {
		select {
		case <-ctx.Done():
			<-done
			// One last push, briefly, so that what happened just before
			// the kiosk stopped reaches HQ now rather than at next start.
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
			if n, err := m.agent.Push(pctx); err != nil {
				m.log.Info("last push on shutdown failed; the log syncs at next start", "err", err)
			} else if n > 0 {
				m.log.Info("last push on shutdown", "entries", n)
			}
			cancel()
			return
		case <-t.C:
		}
		st, err := m.db.SyncState(ctx)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				m.log.Warn("sync state", "err", err)
			}
			continue
		}
		cv, err := m.db.ConfigVersion(ctx)
		if err != nil {
			continue
		}
		now := [3]int64{m.db.Size(), st.CosignedSize, cv}
		if now == last {
			continue
		}
		last = now
		m.log.Info("sync state", "log_size", now[0], "hq_acked", st.AckedSize, "hq_cosigned", now[1], "config_version", cv,
			"last_push", st.LastPush, "last_pull", st.LastPull, "pending", now[0]-st.CosignedSize)
	}
}

// heartbeatStatus fills in what only the running kiosk knows for each
// heartbeat: the door, from the door input's debounced state, and the
// active alarms, from the controller. (The agent itself adds the log and
// config sizes, disk free and the temperature.)
func (m *Main) heartbeatStatus(c *kiosk.Controller) func(*wire.Heartbeat) {
	var in *input.Watcher
	switch {
	case m.hw != nil:
		in = m.hw.Inputs
	case m.cab != nil:
		in = m.cab.Inputs
	}
	return func(hb *wire.Heartbeat) {
		if in != nil {
			for _, s := range in.States() {
				if s.Kind == input.Door {
					hb.Door = "closed"
					if s.Active {
						hb.Door = "open"
					}
				}
			}
		}
		for _, a := range c.Screen().Alarms {
			hb.Alarms = append(hb.Alarms, a.Kind)
		}
	}
}

// software is the program's version for heartbeats.
func software() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "keycab-kiosk " + s.Value[:12]
			}
		}
		return "keycab-kiosk " + bi.Main.Version
	}
	return "keycab-kiosk"
}
