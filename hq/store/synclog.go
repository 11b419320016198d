package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// KioskLogs is the kiosk edge's side of the store: kiosks' logs as HQ
// holds them, pushes, nonces, config versions, heartbeats and health
// (synclog.go), tree hashes (kiosklog.go), refused changes
// (kioskchange.go) and the public logs (publiclog.go). It is the same
// store as Store (a defined type over it).
type KioskLogs Store

// KioskLogs returns the store's KioskLogs methods.
func (s *Store) KioskLogs() *KioskLogs { return (*KioskLogs)(s) }

// store is the Store this is.
func (s *KioskLogs) store() *Store { return (*Store)(s) }

// KioskLog is a kiosk's log as HQ holds it.
type KioskLog struct {
	OrgID       string
	KioskID     string
	CabinetID   string
	Origin      string
	VerifierKey string // the kiosk's note verifier key
	Size        int64  // leaves HQ holds and has verified
	Checkpoint  []byte // the kiosk's signed checkpoint at Size
	Cosigned    []byte // the same with HQ's cosignature
	// QuarantinedAt is set when the kiosk's log forked: HQ accepts no more
	// of it until an admin re-enrols the kiosk.
	QuarantinedAt    time.Time
	QuarantineReason string
	ConfigVersion    int64 // the newest config bundle version issued
	ConfigHash       []byte
}

func (t *tx) kioskLog(ctx context.Context, kioskID string, lock bool) (KioskLog, error) {
	q := `SELECT l.origin, l.verifier_key, l.size, l.checkpoint, l.cosigned, l.quarantined_us, l.quarantine_reason, l.config_version, l.config_hash, k.cabinet_id
		FROM kiosk_logs l JOIN kiosks k ON k.org_id = l.org_id AND k.id = l.kiosk_id
		WHERE l.org_id = $1 AND l.kiosk_id = $2`
	if lock && t.s.engine == Postgres {
		// The per-kiosk lock: concurrent pushes of one kiosk, from any
		// number of HQ processes, run one after the other. (On SQLite the
		// single writer serialises them.)
		q += " FOR UPDATE OF l"
	}
	kl := KioskLog{OrgID: t.org(), KioskID: kioskID}
	var quarantined int64
	err := t.queryRow(ctx, q, t.org(), kioskID).Scan(&kl.Origin, &kl.VerifierKey, &kl.Size, &kl.Checkpoint, &kl.Cosigned,
		&quarantined, &kl.QuarantineReason, &kl.ConfigVersion, &kl.ConfigHash, &kl.CabinetID)
	if errors.Is(err, sql.ErrNoRows) {
		return kl, notFound("kiosk log", kioskID)
	}
	kl.QuarantinedAt = fromUS(quarantined)
	return kl, err
}

// KioskLogState returns the principal kiosk's log state. Kiosks only.
func (s *KioskLogs) KioskLogState(ctx context.Context, sc Scope) (KioskLog, error) {
	var kl KioskLog
	err := s.store().read(ctx, "kiosk log", sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleKiosk {
			return forbidden("only a kiosk reads its log state")
		}
		var err error
		kl, err = t.kioskLog(ctx, t.p.kiosk, false)
		return err
	})
	return kl, err
}

// GetKioskLog returns a kiosk's log state for people who may see the
// kiosk (owners, admins, auditors; site managers of its site).
func (s *KioskLogs) GetKioskLog(ctx context.Context, sc Scope, kioskID string) (KioskLog, error) {
	var kl KioskLog
	err := s.store().read(ctx, "kiosk log "+kioskID, sc, func(ctx context.Context, t *tx) error {
		if err := t.seesKiosk(ctx, kioskID); err != nil {
			return err
		}
		var err error
		if kl, err = t.kioskLog(ctx, kioskID, false); err != nil {
			return err
		}
		return t.addWitnessLines(ctx, &kl)
	})
	return kl, err
}

func (t *tx) seesKiosk(ctx context.Context, kioskID string) error {
	if !t.p.readsAll() && t.p.role != keycab.RoleSiteManager {
		return forbidden("kiosk logs are for managers and auditors")
	}
	ks, err := t.kiosks(ctx, kioskID)
	if err != nil {
		return err
	}
	if len(ks) == 0 {
		return notFound("kiosk", kioskID)
	}
	return nil
}

// KioskLeaves returns leaves [start, end) of a kiosk's log as HQ holds
// them, for verification and export (who may see the kiosk).
func (s *KioskLogs) KioskLeaves(ctx context.Context, sc Scope, kioskID string, start, end int64) ([][]byte, error) {
	var out [][]byte
	err := s.store().read(ctx, "kiosk leaves "+kioskID, sc, func(ctx context.Context, t *tx) error {
		if err := t.seesKiosk(ctx, kioskID); err != nil {
			return err
		}
		var err error
		out, err = (&LogTx{t: t, log: KioskLog{KioskID: kioskID}}).Leaves(ctx, start, end)
		return err
	})
	return out, err
}

// Evidence is what HQ kept when a kiosk's log forked.
type Evidence struct {
	ID      string
	KioskID string
	At      time.Time
	What    string
	Theirs  []byte // what the kiosk sent (a signed checkpoint or a leaf)
	Ours    []byte // what HQ held (its cosigned checkpoint or the stored leaf)
}

// ListEvidence returns a kiosk's fork evidence, oldest first.
func (s *KioskLogs) ListEvidence(ctx context.Context, sc Scope, kioskID string) ([]Evidence, error) {
	var out []Evidence
	err := s.store().read(ctx, "log evidence "+kioskID, sc, func(ctx context.Context, t *tx) error {
		if err := t.seesKiosk(ctx, kioskID); err != nil {
			return err
		}
		rows, err := t.query(ctx, "SELECT id, at_us, what, theirs, ours FROM log_evidence WHERE org_id = $1 AND kiosk_id = $2 ORDER BY at_us, id", t.org(), kioskID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e := Evidence{KioskID: kioskID}
			var at int64
			if err := rows.Scan(&e.ID, &at, &e.What, &e.Theirs, &e.Ours); err != nil {
				return err
			}
			e.At = fromUS(at)
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// LogTx is the principal kiosk's log inside a write transaction that
// holds the kiosk's lock (see UpdateKioskLog).
type LogTx struct {
	t   *tx
	log KioskLog
}

// UpdateKioskLog runs fn with the principal kiosk's log locked: a row
// lock on PostgreSQL (so several HQ processes may serve one kiosk), the
// single writer on SQLite. Everything fn does commits when it returns nil.
// Kiosks only.
func (s *KioskLogs) UpdateKioskLog(ctx context.Context, sc Scope, fn func(context.Context, *LogTx) error) error {
	return s.store().write(ctx, "update kiosk log", sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleKiosk {
			return forbidden("only a kiosk writes its log")
		}
		kl, err := t.kioskLog(ctx, t.p.kiosk, true)
		if err != nil {
			return err
		}
		return fn(ctx, &LogTx{t: t, log: kl})
	})
}

// Log returns the log's state as of the lock.
func (l *LogTx) Log() KioskLog { return l.log }

// Now returns the transaction's time.
func (l *LogTx) Now() time.Time { return l.t.now }

// HashReader reads the stored tree hashes (tlog.HashReader).
func (l *LogTx) HashReader(ctx context.Context) tlog.HashReader { return l.leaves().HashReader(ctx) }

// Leaves returns stored leaves [start, end).
func (l *LogTx) Leaves(ctx context.Context, start, end int64) ([][]byte, error) {
	return l.leaves().Leaves(ctx, start, end)
}

func (l *LogTx) leaves() leafTable {
	return leafTable{t: l.t, table: "kiosk_leaves", key: "kiosk_id", id: l.log.KioskID}
}

// Append stores leaves from index start (which must be the log's size)
// with their stored tree hashes (audit.EncodeHashes).
func (l *LogTx) Append(ctx context.Context, start int64, leaves, hashes [][]byte) error {
	if start != l.log.Size {
		return keycab.Errorf(keycab.ECONFLICT, "append at %d to a log of %d", start, l.log.Size)
	}
	if len(leaves) != len(hashes) {
		return invalid("%d leaves with %d hash sets", len(leaves), len(hashes))
	}
	if l.t.s.engine == Postgres {
		// One statement, the leaves and hashes as two arrays.
		if _, err := l.t.exec(ctx, `INSERT INTO kiosk_leaves (org_id, kiosk_id, idx, leaf, hashes)
			SELECT $1, $2, CAST($3 AS BIGINT) + u.n - 1, u.leaf, u.hashes
			FROM unnest(CAST($4 AS BYTEA[]), CAST($5 AS BYTEA[])) WITH ORDINALITY AS u (leaf, hashes, n)`,
			l.t.org(), l.log.KioskID, start, leaves, hashes); err != nil {
			return err
		}
	} else {
		// Rows of sqliteLeafRows to a statement, anonymous parameters (see
		// sqliteEventInsert).
		for from := 0; from < len(leaves); from += sqliteLeafRows {
			n := min(len(leaves)-from, sqliteLeafRows)
			args := make([]any, 0, 2+3*n)
			args = append(args, l.t.org(), l.log.KioskID)
			for i := from; i < from+n; i++ {
				args = append(args, start+int64(i), leaves[i], hashes[i])
			}
			if _, err := l.t.exec(ctx, sqliteLeafInsert.text(n), args...); err != nil {
				return err
			}
		}
	}
	l.log.Size = start + int64(len(leaves))
	return nil
}

// sqliteLeafRows is how many leaves one INSERT takes on SQLite.
const sqliteLeafRows = 1000

// sqliteLeafInsert is the INSERT of many leaves on SQLite: the
// organisation and kiosk, then index, leaf and hashes for each.
var sqliteLeafInsert = &multiRowInsert{
	head: `INSERT INTO kiosk_leaves (org_id, kiosk_id, idx, leaf, hashes)
		SELECT c.org, c.kiosk, v.column1, v.column2, v.column3 FROM (SELECT ? AS org, ? AS kiosk) AS c, (VALUES `,
	row:  "(?, ?, ?)",
	tail: ") AS v",
}

// SetHead records the verified head: the kiosk's signed checkpoint at size
// and HQ's cosigned copy. The size never shrinks.
func (l *LogTx) SetHead(ctx context.Context, size int64, checkpoint, cosigned []byte) error {
	if size != l.log.Size {
		return fmt.Errorf("head at %d for a log of %d leaves", size, l.log.Size)
	}
	if _, err := l.t.exec(ctx, "UPDATE kiosk_logs SET size = $1, checkpoint = $2, cosigned = $3 WHERE org_id = $4 AND kiosk_id = $5",
		size, checkpoint, cosigned, l.t.org(), l.log.KioskID); err != nil {
		return err
	}
	if _, err := l.t.exec(ctx, "UPDATE kiosks SET last_seen_us = $1, log_size = $2 WHERE org_id = $3 AND id = $4",
		us(l.t.now), size, l.t.org(), l.log.KioskID); err != nil {
		return err
	}
	l.log.Checkpoint, l.log.Cosigned = checkpoint, cosigned
	return nil
}

// Quarantine marks the kiosk's log forked, keeps the evidence (what the
// kiosk sent and what HQ held) and raises an AlarmEquivocation alarm at
// index (the first entry in doubt).
func (l *LogTx) Quarantine(ctx context.Context, what string, index int64, theirs, ours []byte) error {
	t := l.t
	if _, err := t.exec(ctx, `INSERT INTO log_evidence (org_id, id, kiosk_id, at_us, what, theirs, ours) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.org(), newID("evidence"), l.log.KioskID, us(t.now), what, theirs, ours); err != nil {
		return err
	}
	if l.log.QuarantinedAt.IsZero() {
		if _, err := t.exec(ctx, "UPDATE kiosk_logs SET quarantined_us = $1, quarantine_reason = $2 WHERE org_id = $3 AND kiosk_id = $4",
			us(t.now), what, t.org(), l.log.KioskID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO alarms (org_id, id, kiosk_id, cabinet_id, alarm, log_index, raised_us) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			t.org(), newID("alarm"), l.log.KioskID, l.log.CabinetID, keycab.AlarmEquivocation, index, us(t.now)); err != nil {
			return err
		}
		if err := t.emitEvents(ctx, []Event{{Kind: keycab.EventAlarmRaised, KioskID: l.log.KioskID, CabinetID: l.log.CabinetID,
			LogIndex: index, At: t.now, Detail: keycab.AlarmEquivocation}}); err != nil {
			return err
		}
		l.log.QuarantinedAt, l.log.QuarantineReason = t.now, what
	}
	return t.logAction(ctx, "kiosk.quarantine", l.log.KioskID, what)
}

// RecordEvents stores and applies the decoded events of leaves just
// appended, as Store.RecordEvents does, in this transaction.
func (l *LogTx) RecordEvents(ctx context.Context, events []Event) error {
	_, err := l.t.recordEvents(ctx, events)
	return err
}

// rotateKioskKey pins the key a kiosk's key.rotate entry hands its log
// over to, once both signatures check out against the pinned key and the
// new one (audit.VerifyRotation). From then on the kiosk's requests and
// checkpoints must be signed by the new key, and the old one is refused. A
// rotation not signed by both is refused as EUNAUTHORIZED, so the push
// that carries it stores nothing.
func (t *tx) rotateKioskKey(ctx context.Context, e Event) error {
	if e.Entry == nil {
		return invalid("key.rotate %d of kiosk %s: HQ needs the log entry to check its signatures", e.LogIndex, e.KioskID)
	}
	var origin, pinned string
	if err := t.queryRow(ctx, "SELECT origin, verifier_key FROM kiosk_logs WHERE org_id = $1 AND kiosk_id = $2", t.org(), e.KioskID).
		Scan(&origin, &pinned); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("kiosk log", e.KioskID)
		}
		return err
	}
	next, err := audit.VerifyRotation(origin, e.LogIndex, pinned, e.Entry)
	if err != nil {
		return keycab.Errorf(keycab.EUNAUTHORIZED, "kiosk key rotation refused: %v", err)
	}
	pub, err := audit.PublicKey(next)
	if err != nil {
		return keycab.Errorf(keycab.EUNAUTHORIZED, "kiosk key rotation refused: %v", err)
	}
	if _, err := t.exec(ctx, "UPDATE kiosk_logs SET verifier_key = $1 WHERE org_id = $2 AND kiosk_id = $3", next, t.org(), e.KioskID); err != nil {
		return err
	}
	if _, err := t.exec(ctx, "UPDATE kiosks SET public_key = $1 WHERE org_id = $2 AND id = $3", []byte(pub), t.org(), e.KioskID); err != nil {
		return err
	}
	return t.logAction(ctx, "kiosk.rotate_key", e.KioskID, next)
}

// UseNonce records a request nonce of the principal kiosk until expires;
// a nonce seen before is ECONFLICT (a replayed request). Expired nonces
// of the kiosk are dropped on the way.
func (s *KioskLogs) UseNonce(ctx context.Context, sc Scope, nonce string, expires time.Time) error {
	return s.store().write(ctx, "use nonce", sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleKiosk {
			return forbidden("nonces are for kiosks")
		}
		if _, err := t.exec(ctx, "DELETE FROM request_nonces WHERE org_id = $1 AND kiosk_id = $2 AND expires_us < $3", t.org(), t.p.kiosk, us(t.now)); err != nil {
			return err
		}
		res, err := t.exec(ctx, "INSERT INTO request_nonces (org_id, kiosk_id, nonce, expires_us) VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, kiosk_id, nonce) DO NOTHING",
			t.org(), t.p.kiosk, nonce, us(expires))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return keycab.Errorf(keycab.ECONFLICT, "request nonce already used (replay)")
		}
		return nil
	})
}

// IssueConfigVersion returns the bundle version for a config whose
// content (without its version) hashes to hash: the version last issued
// when the content is unchanged, otherwise a new one, larger than every
// version issued to the kiosk before and than now in microseconds.
// Kiosks only.
func (s *KioskLogs) IssueConfigVersion(ctx context.Context, sc Scope, hash []byte) (int64, error) {
	var v int64
	err := s.store().write(ctx, "issue config", sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleKiosk {
			return forbidden("config bundles are for kiosks")
		}
		kl, err := t.kioskLog(ctx, t.p.kiosk, true)
		if err != nil {
			return err
		}
		if kl.ConfigVersion > 0 && string(kl.ConfigHash) == string(hash) {
			v = kl.ConfigVersion
			return nil
		}
		v = max(kl.ConfigVersion+1, us(t.now))
		_, err = t.exec(ctx, "UPDATE kiosk_logs SET config_version = $1, config_hash = $2 WHERE org_id = $3 AND kiosk_id = $4", v, hash, t.org(), t.p.kiosk)
		return err
	})
	return v, err
}

// Heartbeat is what a kiosk reports about itself.
type Heartbeat struct {
	At            time.Time
	Door          string
	Alarms        []string
	LogSize       int64
	CosignedSize  int64
	ConfigVersion int64
	Software      string
	DiskFree      int64
	TemperatureMC int64         // millidegrees Celsius
	ClockOffset   time.Duration // HQ's clock minus the kiosk's, as the kiosk measured it
	// ConfigAppliedAt is when HQ first heard the kiosk report
	// ConfigVersion (read only: RecordHeartbeat keeps it).
	ConfigAppliedAt time.Time
}

// RecordHeartbeat stores the principal kiosk's newest heartbeat and marks
// it seen. Kiosks only.
func (s *KioskLogs) RecordHeartbeat(ctx context.Context, sc Scope, h Heartbeat) error {
	return s.store().write(ctx, "record heartbeat", sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleKiosk {
			return forbidden("heartbeats are for kiosks")
		}
		alarms, _ := json.Marshal(h.Alarms)
		if err := t.emitConfigApplied(ctx, h.ConfigVersion); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO kiosk_heartbeats (org_id, kiosk_id, at_us, door, alarms, log_size, cosigned_size, config_version, software, disk_free, temperature_mc, clock_offset_ms, config_applied_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $3)
			ON CONFLICT (org_id, kiosk_id) DO UPDATE SET at_us = excluded.at_us, door = excluded.door, alarms = excluded.alarms,
				log_size = excluded.log_size, cosigned_size = excluded.cosigned_size, config_version = excluded.config_version,
				software = excluded.software, disk_free = excluded.disk_free, temperature_mc = excluded.temperature_mc, clock_offset_ms = excluded.clock_offset_ms,
				config_applied_us = CASE WHEN kiosk_heartbeats.config_version = excluded.config_version
					THEN kiosk_heartbeats.config_applied_us ELSE excluded.at_us END`,
			t.org(), t.p.kiosk, us(t.now), h.Door, string(alarms), h.LogSize, h.CosignedSize, h.ConfigVersion, h.Software, h.DiskFree, h.TemperatureMC,
			h.ClockOffset.Milliseconds()); err != nil {
			return err
		}
		_, err := t.exec(ctx, "UPDATE kiosks SET last_seen_us = $1 WHERE org_id = $2 AND id = $3", us(t.now), t.org(), t.p.kiosk)
		return err
	})
}

// KioskHealth is a kiosk's newest heartbeat and whether it is online.
type KioskHealth struct {
	Kiosk
	Heartbeat   Heartbeat // zero when none arrived yet
	Online      bool      // seen within the offline threshold
	Quarantined bool
	// ConfigNewest is the newest config version HQ issued the kiosk (it
	// issues one when the kiosk asks and the config changed); the
	// heartbeat's ConfigVersion is the one the kiosk applied.
	ConfigNewest int64
}

// ConfigBehindSince is when HQ issued a config version the kiosk has not
// reported applied yet, or zero when it is up to date. (Versions are
// HQ's clock in microseconds when issued, or one more than the last.)
func (h KioskHealth) ConfigBehindSince() time.Time {
	if h.ConfigNewest <= h.Heartbeat.ConfigVersion {
		return time.Time{}
	}
	return fromUS(h.ConfigNewest)
}

// ListKioskHealth returns the kiosks the principal may see with their
// newest heartbeats; a kiosk not seen for offlineAfter is offline.
func (s *KioskLogs) ListKioskHealth(ctx context.Context, sc Scope, offlineAfter time.Duration) ([]KioskHealth, error) {
	var out []KioskHealth
	err := s.store().read(ctx, "kiosk health", sc, func(ctx context.Context, t *tx) error {
		if !t.p.readsAll() && t.p.role != keycab.RoleSiteManager {
			return forbidden("kiosk health is for managers and auditors")
		}
		var err error
		out, err = t.kioskHealth(ctx, offlineAfter, t.p.seesSite)
		return err
	})
	return out, err
}

// kioskHealth reads every kiosk of the organisation whose site keep
// keeps, with its newest heartbeat and its log's quarantine, in one
// statement (the heartbeat and the log may be missing).
func (t *tx) kioskHealth(ctx context.Context, offlineAfter time.Duration, keep func(site string) bool) ([]KioskHealth, error) {
	var out []KioskHealth
	rows, err := t.query(ctx, `SELECT k.id, k.cabinet_id, c.site_id, k.name, k.public_key, k.enrolled_us, k.last_seen_us, k.log_size, k.revoked_us,
			COALESCE(hb.at_us, 0), COALESCE(hb.door, ''), COALESCE(hb.alarms, ''), COALESCE(hb.log_size, 0), COALESCE(hb.cosigned_size, 0),
			COALESCE(hb.config_version, 0), COALESCE(hb.software, ''), COALESCE(hb.disk_free, 0), COALESCE(hb.temperature_mc, 0),
			COALESCE(hb.clock_offset_ms, 0), COALESCE(hb.config_applied_us, 0), COALESCE(kl.quarantined_us, 0), COALESCE(kl.config_version, 0)
		FROM kiosks k JOIN cabinets c ON c.org_id = k.org_id AND c.id = k.cabinet_id
		LEFT JOIN kiosk_heartbeats hb ON hb.org_id = k.org_id AND hb.kiosk_id = k.id
		LEFT JOIN kiosk_logs kl ON kl.org_id = k.org_id AND kl.kiosk_id = k.id
		WHERE k.org_id = $1 ORDER BY k.name, k.id`, t.org())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		h := KioskHealth{Kiosk: Kiosk{OrgID: t.org()}}
		k, hb := &h.Kiosk, &h.Heartbeat
		var site, alarms string
		var enrolled, seen, revoked, at, offsetMS, applied, quarantined int64
		if err := rows.Scan(&k.ID, &k.CabinetID, &site, &k.Name, &k.PublicKey, &enrolled, &seen, &k.LogSize, &revoked,
			&at, &hb.Door, &alarms, &hb.LogSize, &hb.CosignedSize, &hb.ConfigVersion, &hb.Software, &hb.DiskFree, &hb.TemperatureMC,
			&offsetMS, &applied, &quarantined, &h.ConfigNewest); err != nil {
			return nil, err
		}
		if !keep(site) {
			continue
		}
		k.EnrolledAt, k.LastSeen, k.RevokedAt = fromUS(enrolled), fromUS(seen), fromUS(revoked)
		hb.At, hb.ClockOffset, hb.ConfigAppliedAt = fromUS(at), time.Duration(offsetMS)*time.Millisecond, fromUS(applied)
		if alarms != "" {
			_ = json.Unmarshal([]byte(alarms), &hb.Alarms)
		}
		h.Quarantined = quarantined != 0
		h.Online = !k.LastSeen.IsZero() && t.now.Sub(k.LastSeen) < offlineAfter
		out = append(out, h)
	}
	return out, rows.Err()
}

// Time anchoring. A kiosk's clock is untrusted (a Pi has no clock battery
// and may run before NTP has set it), so HQ keeps, for every event, the
// interval in which it happened by HQ's own clock: not before the HQ time
// of the newest clock.anchored entry before it in the kiosk's log (the
// kiosk logs one when it stores HQ's cosignature, so whatever follows in
// the log happened after that cosignature), and not after HQ received it
// (HQ cosigns a push when it records it).

// ClockSlack is how far a kiosk's time may lie outside HQ's interval
// before the event's time is shown as wrong: HQ's cosignature times are
// whole seconds, and two good clocks still differ a little.
const ClockSlack = time.Minute

// timeBound returns the lower bound in force before the event at index:
// that of the kiosk's newest event before it.
func (t *tx) timeBound(ctx context.Context, index int64) (int64, error) {
	var b int64
	err := t.queryRow(ctx, "SELECT not_before_us FROM events WHERE org_id = $1 AND kiosk_id = $2 AND log_index < $3 ORDER BY log_index DESC LIMIT 1",
		t.org(), t.p.kiosk, index).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return b, err
}

// anchorTime returns the HQ time a clock.anchored entry carries, when HQ
// can vouch for it: the time is not in HQ's future, and HQ had the
// entries of the checkpoint it names by then (it cosigned that size no
// earlier than it received them). An anchor HQ cannot vouch for bounds
// nothing.
func (t *tx) anchorTime(ctx context.Context, e Event) (int64, bool, error) {
	if e.Entry == nil {
		return 0, false, nil
	}
	sec, err1 := strconv.ParseInt(e.Entry.Detail[keycab.AnchorHQTime], 10, 64)
	size, err2 := strconv.ParseInt(e.Entry.Detail[keycab.AnchorSize], 10, 64)
	if err1 != nil || err2 != nil || size <= 0 || size > e.LogIndex {
		return 0, false, nil
	}
	at := us(time.Unix(sec, 0))
	if at > us(t.now) {
		return 0, false, nil
	}
	var received int64
	err := t.queryRow(ctx, "SELECT received_us FROM events WHERE org_id = $1 AND kiosk_id = $2 AND log_index = $3",
		t.org(), t.p.kiosk, size-1).Scan(&received)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, err
	}
	return at, at >= received-received%1e6, nil
}

// EventTime is when an event happened: At by the kiosk's clock; by HQ's
// clock, between NotBefore (zero: HQ knows no lower bound) and NotAfter.
type EventTime struct {
	At, NotBefore, NotAfter time.Time
}

// Off reports whether the kiosk's time lies outside HQ's interval by more
// than ClockSlack, or before keycab.Epoch: the kiosk's clock was wrong or
// not yet set.
func (et EventTime) Off() bool {
	return et.At.Before(keycab.Epoch) || (!et.NotBefore.IsZero() && et.At.Before(et.NotBefore.Add(-ClockSlack))) ||
		(!et.NotAfter.IsZero() && et.At.After(et.NotAfter.Add(ClockSlack)))
}

// eventTimesBatch is how many events one EventTimes statement looks up.
const eventTimesBatch = 200

// eventTimesQuery builds EventTimes' statement for events of org (at most
// eventTimesBatch): one primary-key lookup per event, with the site where
// it happened (events.site_id, as the history reads it), the lookups put together with UNION ALL. Every
// branch names the whole key (org_id, kiosk_id, log_index) with
// equalities, which both engines answer with the primary key whatever
// their statistics say. The one query with a term per event ORed
// together, as before, was answered with the primary key (SQLite's
// MULTI-INDEX OR) only after an ANALYZE; without statistics SQLite read
// all of the organisation's events through events_kind instead, 1 to 3 s
// per dashboard history page at 1M events.
func eventTimesQuery(org string, events []Event) (string, []any) {
	args := []any{org}
	branches := make([]string, len(events))
	for i, e := range events {
		branches[i] = fmt.Sprintf(`SELECT e.kiosk_id, e.log_index, e.at_us, e.not_before_us, e.received_us, e.actor_id, e.site_id
		FROM events e WHERE e.org_id = $1 AND e.kiosk_id = $%d AND e.log_index = $%d`, len(args)+1, len(args)+2)
		args = append(args, e.KioskID, e.LogIndex)
	}
	return strings.Join(branches, "\nUNION ALL "), args
}

// ExplainEventTimes returns the engine's plan for the statement
// EventTimes runs for events (at most eventTimesBatch), as ExplainEvents.
func (s *KioskLogs) ExplainEventTimes(ctx context.Context, sc Scope, events []Event) (string, error) {
	return s.store().explain(ctx, "explain event times", sc, func(t *tx) (string, []any) {
		return eventTimesQuery(t.org(), events[:min(len(events), eventTimesBatch)])
	})
}

// EventTimes returns the time intervals of events as ListEvents returned
// them, in their order, to the people who may see those events (one query
// for a page of them).
func (s *KioskLogs) EventTimes(ctx context.Context, sc Scope, events []Event) ([]EventTime, error) {
	type key struct {
		kiosk string
		index int64
	}
	found := make(map[key]EventTime, len(events))
	err := s.store().read(ctx, "event times", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("history"); err != nil {
			return err
		}
		for start := 0; start < len(events); start += eventTimesBatch {
			q, args := eventTimesQuery(t.org(), events[start:min(start+eventTimesBatch, len(events))])
			rows, err := t.query(ctx, q, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var k key
				var at, notBefore, received int64
				var actor, site string
				if err := rows.Scan(&k.kiosk, &k.index, &at, &notBefore, &received, &actor, &site); err != nil {
					rows.Close()
					return err
				}
				own := actor != "" && actor == t.p.member
				if (t.p.role == keycab.RoleStaff || t.p.role == keycab.RoleContractor) && !own || !t.p.seesSite(site) && !own {
					continue
				}
				found[k] = EventTime{At: fromUS(at), NotBefore: fromUS(notBefore), NotAfter: fromUS(received)}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]EventTime, len(events))
	for i, e := range events {
		et, ok := found[key{e.KioskID, e.LogIndex}]
		if !ok {
			return nil, notFound("event", fmt.Sprintf("%s/%d", e.KioskID, e.LogIndex))
		}
		out[i] = et
	}
	return out, nil
}
