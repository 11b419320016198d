package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// External witnesses (HQ migration 0031; hq/witness sends): HQ hands
// every kiosk's newest checkpoint to the witnesses its operator names
// (C2SP tlog-witness add-checkpoint) and keeps their cosignatures, which
// it serves with the checkpoint and hands the kiosk.

// WitnessLog is a kiosk's log as the witness sender sees it.
type WitnessLog struct {
	OrgID, KioskID      string
	Origin, VerifierKey string
	Size                int64
	Checkpoint          []byte // the kiosk's signed checkpoint at Size
	// State is what HQ last heard from each witness, by its name.
	State map[string]WitnessState
}

// WitnessState is what HQ last heard from one witness about one log.
type WitnessState struct {
	Size   int64  // the size the witness holds (its last cosignature, or its 409)
	Status string // "cosigned", "unknown log", "refused", ...
	At     time.Time
	// Cosigned is the checkpoint of Size the witness cosigned, as HQ kept
	// it (nil when HQ holds none).
	Cosigned []byte
}

// WitnessStatusRefused is the state of a log a witness refused as a split
// view: HQ sends it no more checkpoints of that log.
const WitnessStatusRefused = "refused"

// WitnessLogs returns every organisation's kiosk logs, for HQ's witness
// sender and keycab-hq witness-logs (HQ itself, no principal); a log no
// push reached yet has Size 0 and no Checkpoint.
func (s *KioskLogs) WitnessLogs(ctx context.Context) ([]WitnessLog, error) {
	var orgs []string
	if err := s.store().global(ctx, "list organisations", false, func(ctx context.Context, t *tx) error {
		var err error
		orgs, err = t.orgIDs(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	var out []WitnessLog
	for _, org := range orgs {
		err := s.store().tenant(ctx, "witness logs", org, false, func(ctx context.Context, t *tx) error {
			byKiosk := map[string]int{}
			if err := t.each(ctx, func(r *sql.Rows) error {
				l := WitnessLog{OrgID: org, State: map[string]WitnessState{}}
				if err := r.Scan(&l.KioskID, &l.Origin, &l.VerifierKey, &l.Size, &l.Checkpoint); err != nil {
					return err
				}
				byKiosk[l.KioskID] = len(out)
				out = append(out, l)
				return nil
			}, "SELECT kiosk_id, origin, verifier_key, size, checkpoint FROM kiosk_logs WHERE org_id = $1 ORDER BY kiosk_id", org); err != nil {
				return err
			}
			return t.each(ctx, func(r *sql.Rows) error {
				var kiosk, name string
				var st WitnessState
				var at int64
				if err := r.Scan(&kiosk, &name, &st.Size, &st.Status, &at, &st.Cosigned); err != nil {
					return err
				}
				st.At = fromUS(at)
				if i, ok := byKiosk[kiosk]; ok {
					out[i].State[name] = st
				}
				return nil
			}, `SELECT s.kiosk_id, s.witness, s.size, s.status, s.at_us, c.checkpoint FROM witness_state s
				LEFT JOIN witness_cosignatures c ON c.org_id = s.org_id AND c.kiosk_id = s.kiosk_id AND c.witness = s.witness AND c.size = s.size
				WHERE s.org_id = $1`, org)
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// WitnessProof returns the RFC 6962 consistency proof from the kiosk's
// log at oldSize to the log at size, from the tree hashes HQ holds.
func (s *KioskLogs) WitnessProof(ctx context.Context, orgID, kioskID string, oldSize, size int64) (tlog.TreeProof, error) {
	var p tlog.TreeProof
	err := s.store().tenant(ctx, "witness proof "+kioskID, orgID, false, func(ctx context.Context, t *tx) error {
		var err error
		p, err = tlog.ProveTree(size, oldSize, (&LogTx{t: t, log: KioskLog{KioskID: kioskID}}).HashReader(ctx))
		return err
	})
	return p, err
}

// RecordWitnessed keeps witness's cosignature of the kiosk's checkpoint of
// size (cosigned: the kiosk's checkpoint with the witness's signature
// lines) and that the witness holds size.
func (s *KioskLogs) RecordWitnessed(ctx context.Context, orgID, kioskID, witness string, size int64, cosigned []byte) error {
	return s.store().tenant(ctx, "record witness cosignature "+kioskID, orgID, true, func(ctx context.Context, t *tx) error {
		if _, err := t.exec(ctx, `INSERT INTO witness_cosignatures (org_id, kiosk_id, witness, size, checkpoint, at_us) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (org_id, kiosk_id, witness, size) DO UPDATE SET checkpoint = excluded.checkpoint, at_us = excluded.at_us`,
			orgID, kioskID, witness, size, cosigned, us(t.now)); err != nil {
			return err
		}
		return t.setWitnessState(ctx, kioskID, witness, size, "cosigned")
	})
}

// SetWitnessState records what witness last said about the kiosk's log:
// the size it holds and the outcome.
func (s *KioskLogs) SetWitnessState(ctx context.Context, orgID, kioskID, witness string, size int64, status string) error {
	return s.store().tenant(ctx, "witness state "+kioskID, orgID, true, func(ctx context.Context, t *tx) error {
		return t.setWitnessState(ctx, kioskID, witness, size, status)
	})
}

func (t *tx) setWitnessState(ctx context.Context, kioskID, witness string, size int64, status string) error {
	_, err := t.exec(ctx, `INSERT INTO witness_state (org_id, kiosk_id, witness, size, status, at_us) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (org_id, kiosk_id, witness) DO UPDATE SET size = excluded.size, status = excluded.status, at_us = excluded.at_us
		WHERE witness_state.status <> 'refused'`,
		t.org(), kioskID, witness, size, status, us(t.now))
	return err
}

// RecordWitnessRefusal keeps the evidence of a split view a witness
// refused: the checkpoint HQ presented (ours) and the checkpoint the
// witness cosigned before at theirsAt, the size it holds (theirs, as HQ
// kept it; empty when HQ holds none), raises an AlarmEquivocation alarm at index size, logs
// kiosk.witness_refused in the admin log and stops sending the log to
// that witness (WitnessStatusRefused).
func (s *KioskLogs) RecordWitnessRefusal(ctx context.Context, orgID, kioskID, witness string, size, theirsAt int64, presented []byte, why string) error {
	return s.store().tenant(ctx, "record witness refusal "+kioskID, orgID, true, func(ctx context.Context, t *tx) error {
		var theirs []byte
		err := t.queryRow(ctx, "SELECT checkpoint FROM witness_cosignatures WHERE org_id = $1 AND kiosk_id = $2 AND witness = $3 AND size = $4",
			orgID, kioskID, witness, theirsAt).Scan(&theirs)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if theirs == nil {
			theirs = []byte{}
		}
		var cabinet string
		if err := t.queryRow(ctx, "SELECT cabinet_id FROM kiosks WHERE org_id = $1 AND id = $2", orgID, kioskID).Scan(&cabinet); err != nil {
			return err
		}
		what := fmt.Sprintf("witness %s refused HQ's checkpoint at size %d: %s", witness, size, why)
		if _, err := t.exec(ctx, `INSERT INTO log_evidence (org_id, id, kiosk_id, at_us, what, theirs, ours) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			orgID, newID("evidence"), kioskID, us(t.now), what, theirs, presented); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO alarms (org_id, id, kiosk_id, cabinet_id, alarm, log_index, raised_us) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			orgID, newID("alarm"), kioskID, cabinet, keycab.AlarmEquivocation, size, us(t.now)); err != nil {
			return err
		}
		if err := t.emitEvents(ctx, []Event{{Kind: keycab.EventAlarmRaised, KioskID: kioskID, CabinetID: cabinet,
			LogIndex: size, At: t.now, Detail: keycab.AlarmEquivocation}}); err != nil {
			return err
		}
		if err := t.setWitnessState(ctx, kioskID, witness, size, WitnessStatusRefused); err != nil {
			return err
		}
		return t.logActionBy(ctx, "hq", "", "kiosk.witness_refused", kioskID, what)
	})
}

// WitnessCosignature is one witness's cosignature of a kiosk's checkpoint.
type WitnessCosignature struct {
	Witness    string
	Size       int64
	Checkpoint []byte // the kiosk's checkpoint with the witness's signature lines
	At         time.Time
}

// WitnessCosignatures returns the witness cosignatures HQ holds of a
// kiosk's log, by size then witness, for those who may see the kiosk.
func (s *KioskLogs) WitnessCosignatures(ctx context.Context, sc Scope, kioskID string) ([]WitnessCosignature, error) {
	var out []WitnessCosignature
	err := s.store().read(ctx, "witness cosignatures "+kioskID, sc, func(ctx context.Context, t *tx) error {
		if err := t.seesKiosk(ctx, kioskID); err != nil {
			return err
		}
		return t.each(ctx, func(r *sql.Rows) error {
			var c WitnessCosignature
			var at int64
			if err := r.Scan(&c.Witness, &c.Size, &c.Checkpoint, &at); err != nil {
				return err
			}
			c.At = fromUS(at)
			out = append(out, c)
			return nil
		}, "SELECT witness, size, checkpoint, at_us FROM witness_cosignatures WHERE org_id = $1 AND kiosk_id = $2 ORDER BY size, witness", t.org(), kioskID)
	})
	return out, err
}

// KioskWitnessed returns, for the principal kiosk, the newest checkpoint
// each witness cosigned (with the witness's signature lines), for the
// kiosk to keep (sync/wire minor 10). Kiosks only.
func (s *KioskLogs) KioskWitnessed(ctx context.Context, sc Scope) ([][]byte, error) {
	var out [][]byte
	err := s.store().read(ctx, "kiosk witnessed", sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleKiosk {
			return forbidden("only a kiosk reads its witnesses' cosignatures this way")
		}
		var err error
		out, err = t.witnessed(ctx, t.p.kiosk)
		return err
	})
	return out, err
}

// witnessed returns the newest checkpoint of kioskID each witness cosigned.
func (t *tx) witnessed(ctx context.Context, kioskID string) ([][]byte, error) {
	var out [][]byte
	err := t.each(ctx, func(r *sql.Rows) error {
		var b []byte
		if err := r.Scan(&b); err != nil {
			return err
		}
		out = append(out, b)
		return nil
	}, `SELECT c.checkpoint FROM witness_cosignatures c WHERE c.org_id = $1 AND c.kiosk_id = $2
		AND c.size = (SELECT MAX(m.size) FROM witness_cosignatures m WHERE m.org_id = c.org_id AND m.kiosk_id = c.kiosk_id AND m.witness = c.witness)
		ORDER BY c.witness`, t.org(), kioskID)
	return out, err
}

// addWitnessLines appends to kl.Cosigned the signature lines of every
// witness cosignature HQ holds of the same checkpoint (its size and text),
// so that the checkpoint HQ serves carries every cosignature it holds.
func (t *tx) addWitnessLines(ctx context.Context, kl *KioskLog) error {
	if len(kl.Cosigned) == 0 || kl.Size == 0 {
		return nil
	}
	text, err := audit.NoteText(kl.Cosigned)
	if err != nil {
		return nil
	}
	notes := [][]byte{kl.Cosigned}
	err = t.each(ctx, func(r *sql.Rows) error {
		var b []byte
		if err := r.Scan(&b); err != nil {
			return err
		}
		if wt, err := audit.NoteText(b); err == nil && wt == text {
			notes = append(notes, b)
		}
		return nil
	}, "SELECT checkpoint FROM witness_cosignatures WHERE org_id = $1 AND kiosk_id = $2 AND size = $3 ORDER BY witness", t.org(), kl.KioskID, kl.Size)
	if err != nil || len(notes) == 1 {
		return err
	}
	merged, err := audit.MergeSignatures(notes...)
	if err != nil {
		return err
	}
	kl.Cosigned = merged
	return nil
}

// WitnessStatus is what HQ last heard from one witness about a kiosk's log.
type WitnessStatus struct {
	Witness string
	WitnessState
}

// KioskWitnessStatus returns what HQ last heard from each witness about a
// kiosk's log, by witness name, for those who may see the kiosk.
func (s *KioskLogs) KioskWitnessStatus(ctx context.Context, sc Scope, kioskID string) ([]WitnessStatus, error) {
	var out []WitnessStatus
	err := s.store().read(ctx, "witness status "+kioskID, sc, func(ctx context.Context, t *tx) error {
		if err := t.seesKiosk(ctx, kioskID); err != nil {
			return err
		}
		return t.each(ctx, func(r *sql.Rows) error {
			var w WitnessStatus
			var at int64
			if err := r.Scan(&w.Witness, &w.Size, &w.Status, &at); err != nil {
				return err
			}
			w.At = fromUS(at)
			out = append(out, w)
			return nil
		}, "SELECT witness, size, status, at_us FROM witness_state WHERE org_id = $1 AND kiosk_id = $2 ORDER BY witness", t.org(), kioskID)
	})
	return out, err
}
