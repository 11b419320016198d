package store

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// HQ's own log. A custody change made at HQ (phonecustody.go) is an entry
// of its organisation's transparency log, exactly as a kiosk's change is
// an entry of the kiosk's: the same entry format (audit.Event, chained by
// Prev), RFC 6962 tree hashes stored with each leaf (org_log_leaves, as
// kiosk_leaves), and a C2SP checkpoint signed with the organisation's
// log key, named by its origin DOMAIN/org/ORGID. The log is served as
// tlog-tiles under /v1/org/log/, so `keycab audit verify --tiles` checks
// it as it checks a kiosk's.

// OrgLogKeys derives the signing key of every organisation's HQ log from
// one secret seed (HMAC-SHA256 of the seed and the organisation's id is
// the Ed25519 seed), so every HQ process that shares HQ's keys file signs
// with the same key and none is stored. Domain names the logs' origins.
type OrgLogKeys struct {
	seed   []byte
	domain string
}

// NewOrgLogKeys returns the key source for seed (at least 32 bytes) and
// the origin domain (as `keycab-hq serve --log-origin-domain`).
func NewOrgLogKeys(seed []byte, domain string) (*OrgLogKeys, error) {
	if len(seed) < 32 {
		return nil, fmt.Errorf("org log seed: want at least 32 bytes, have %d", len(seed))
	}
	if domain == "" || strings.ContainsAny(domain, " \t\n+") {
		return nil, fmt.Errorf("org log origin domain %q is not a host name", domain)
	}
	return &OrgLogKeys{seed: append([]byte(nil), seed...), domain: domain}, nil
}

// Origin returns the origin of orgID's log.
func (k *OrgLogKeys) Origin(orgID string) string { return k.domain + "/org/" + orgID }

// Signer returns the signer of orgID's log checkpoints.
func (k *OrgLogKeys) Signer(orgID string) (*audit.Signer, error) {
	mac := hmac.New(sha256.New, k.seed)
	mac.Write([]byte("keycab org log key v1\x00" + orgID))
	priv := ed25519.NewKeyFromSeed(mac.Sum(nil))
	name := k.Origin(orgID)
	vkey, err := note.NewEd25519VerifierKey(name, priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("org log key: %w", err)
	}
	// vkey is name+hash+key; the private key text shares name and hash.
	f := strings.SplitN(vkey, "+", 3)
	skey := "PRIVATE+KEY+" + f[0] + "+" + f[1] + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...))
	return audit.ParseSignerKey(skey)
}

// SetOrgLogKeys gives the store the keys of the organisations' HQ logs;
// without them HQ records no custody changes of its own. Call it before
// the store serves.
func (s *Store) SetOrgLogKeys(k *OrgLogKeys) { s.orgLog = k }

// OrgLog is an organisation's HQ log: its origin, verifier key, size and
// signed checkpoint (nil while empty).
type OrgLog struct {
	OrgID       string
	Origin      string
	VerifierKey string
	Size        int64
	Checkpoint  []byte
	signer      *audit.Signer
}

// errNoLogKey refuses custody changes at an HQ started without log keys.
var errNoLogKey = keycab.Errorf(keycab.EUNAVAILABLE, "this HQ has no log key, so it records no custody changes of its own")

// GetOrgLog returns the principal's organisation's HQ log, to those who
// read every site's records (owners, admins, auditors), as kiosks' logs.
func (s *Store) GetOrgLog(ctx context.Context, sc Scope) (OrgLog, error) {
	var out OrgLog
	err := s.read(ctx, "get org log", sc, func(ctx context.Context, t *tx) error {
		if !t.p.readsAll() {
			return forbidden("the HQ log is for owners, admins and auditors")
		}
		var err error
		out, err = t.orgLog(ctx, false)
		return err
	})
	return out, err
}

// OrgLogTreeHashes returns stored tree hashes of the organisation's HQ
// log, for serving it as tiles.
func (s *Store) OrgLogTreeHashes(ctx context.Context, sc Scope, indexes []int64) ([]tlog.Hash, error) {
	var out []tlog.Hash
	err := s.read(ctx, "org log tree hashes", sc, func(ctx context.Context, t *tx) error {
		if !t.p.readsAll() {
			return forbidden("the HQ log is for owners, admins and auditors")
		}
		var err error
		out, err = t.orgLogLeaves().HashReader(ctx).ReadHashes(indexes)
		return err
	})
	return out, err
}

// OrgLogLeaves returns leaves [start, end) of the organisation's HQ log.
func (s *Store) OrgLogLeaves(ctx context.Context, sc Scope, start, end int64) ([][]byte, error) {
	var out [][]byte
	err := s.read(ctx, "org log leaves", sc, func(ctx context.Context, t *tx) error {
		if !t.p.readsAll() {
			return forbidden("the HQ log is for owners, admins and auditors")
		}
		var err error
		out, err = t.orgLogLeaves().Leaves(ctx, start, end)
		return err
	})
	return out, err
}

// orgLog reads the organisation's log state; with lock, inside a write,
// it makes the log on first use and holds it (a row lock on PostgreSQL,
// the single writer on SQLite) until the transaction ends, so appends
// are serialised across HQ processes.
func (t *tx) orgLog(ctx context.Context, lock bool) (OrgLog, error) {
	keys := t.s.orgLog
	if keys == nil {
		return OrgLog{}, errNoLogKey
	}
	out := OrgLog{OrgID: t.org(), Origin: keys.Origin(t.org())}
	signer, err := keys.Signer(t.org())
	if err != nil {
		return out, err
	}
	out.VerifierKey, out.signer = signer.VerifierKey, signer
	if lock {
		if _, err := t.exec(ctx, "INSERT INTO org_logs (org_id, origin) VALUES ($1, $2) ON CONFLICT (org_id) DO NOTHING", t.org(), out.Origin); err != nil {
			return out, err
		}
	}
	q := "SELECT origin, size, checkpoint FROM org_logs WHERE org_id = $1"
	if lock && t.s.engine == Postgres {
		q += " FOR UPDATE"
	}
	var origin string
	err = t.queryRow(ctx, q, t.org()).Scan(&origin, &out.Size, &out.Checkpoint)
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil // nothing recorded at HQ yet
	} else if err != nil {
		return out, err
	}
	if origin != out.Origin {
		// The log keeps the origin it was made with; a changed
		// --log-origin-domain names new logs only, as for kiosks.
		return out, keycab.Errorf(keycab.EUNAVAILABLE, "the organisation's HQ log is named %s, and this HQ names it %s: start HQ with the --log-origin-domain it was made with", origin, out.Origin)
	}
	return out, nil
}

// orgLogLeaves is the organisation's HQ log as a leaf table.
func (t *tx) orgLogLeaves() leafTable {
	return leafTable{t: t, table: "org_log_leaves", key: "org_id", id: t.org()}
}

// appendOrgLog appends ev to the organisation's HQ log, chained to the
// entry before, with its stored tree hashes, and signs the new
// checkpoint, all in the transaction. It returns the entry's index and
// bytes.
func (t *tx) appendOrgLog(ctx context.Context, ev *audit.Event) (int64, []byte, error) {
	lg, err := t.orgLog(ctx, true)
	if err != nil {
		return 0, nil, err
	}
	lt := t.orgLogLeaves()
	f, err := audit.NewFrontier(lg.Size, lt.HashReader(ctx))
	if err != nil {
		return 0, nil, err
	}
	ev.Prev = nil
	if lg.Size > 0 {
		last, err := lt.Leaves(ctx, lg.Size-1, lg.Size)
		if err != nil {
			return 0, nil, err
		}
		h := tlog.RecordHash(last[0])
		ev.Prev = h[:]
	}
	ev.Time = t.now.UnixMilli()
	leaf, err := audit.Encode(ev)
	if err != nil {
		return 0, nil, err
	}
	hs, err := f.Next(leaf)
	if err != nil {
		return 0, nil, err
	}
	if _, err := t.exec(ctx, "INSERT INTO org_log_leaves (org_id, idx, leaf, hashes) VALUES ($1, $2, $3, $4)",
		t.org(), lg.Size, leaf, audit.EncodeHashes(hs)); err != nil {
		return 0, nil, err
	}
	f.Advance(hs)
	signed, err := audit.SignCheckpoint(audit.Checkpoint{Origin: lg.Origin, Size: f.Size(), Root: f.Root()}, lg.signer)
	if err != nil {
		return 0, nil, err
	}
	if _, err := t.exec(ctx, "UPDATE org_logs SET size = $1, checkpoint = $2 WHERE org_id = $3", f.Size(), signed, t.org()); err != nil {
		return 0, nil, err
	}
	return lg.Size, leaf, nil
}

// leafTable reads a log whose leaves and stored hashes are rows of table
// (kiosk_leaves, org_log_leaves) keyed by org_id, key = id and idx.
type leafTable struct {
	t       *tx
	table   string
	key, id string
}

// where is the condition naming the log's rows, as $1 (and $2).
func (l leafTable) where() (string, []any) {
	if l.key == "org_id" {
		return "org_id = $1", []any{l.t.org()}
	}
	return "org_id = $1 AND " + l.key + " = $2", []any{l.t.org(), l.id}
}

// HashReader reads the stored tree hashes (tlog.HashReader).
func (l leafTable) HashReader(ctx context.Context) tlog.HashReader {
	return audit.GroupedHashReader(200, func(leaves []int64) (*sql.Rows, error) {
		w, args := l.where()
		ph := make([]string, len(leaves))
		for i, x := range leaves {
			args = append(args, x)
			ph[i] = "$" + strconv.Itoa(len(args))
		}
		return l.t.query(ctx, "SELECT idx, hashes FROM "+l.table+" WHERE "+w+" AND idx IN ("+strings.Join(ph, ", ")+")", args...)
	})
}

// Leaves returns stored leaves [start, end).
func (l leafTable) Leaves(ctx context.Context, start, end int64) ([][]byte, error) {
	w, args := l.where()
	n := len(args)
	rows, err := l.t.query(ctx, "SELECT idx, leaf FROM "+l.table+" WHERE "+w+" AND idx >= $"+strconv.Itoa(n+1)+" AND idx < $"+strconv.Itoa(n+2)+" ORDER BY idx",
		append(args, start, end)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var idx int64
		var b []byte
		if err := rows.Scan(&idx, &b); err != nil {
			return nil, err
		}
		if idx != start+int64(len(out)) {
			return nil, fmt.Errorf("leaf %d is missing", start+int64(len(out)))
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
