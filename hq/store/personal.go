package store

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// Personal texts at HQ (and, from sync/wire minor 8, badge values: see
// FieldBadge). A kiosk keeps an entry's recipient and notes off
// its log, in its personal table, and the entry carries a salted
// reference to each (audit.PersonalRef). With each push (sync/wire minor
// 4) the kiosk sends the texts the pushed entries reference, beside the
// leaves. HQ keeps a text only when it is exactly what the entry commits
// to: RecordTexts refuses the whole push (EINVALID, nothing stored) for a
// text whose salt and text do not hash to the reference its entry carries
// in that field, one for an entry or field outside the push, a second
// text for the same field, or a text that is empty, too long
// (audit.MaxPersonalText), NUL or invalid UTF-8.
//
// A kept text is sealed with the notes key (crypto.go) under associated
// data naming its row (organisation, kiosk, log index, field), and the
// sealed plaintext is the salt followed by the text, so that it can be
// checked against the leaf again later (a subject-access export, HQ's
// own verify). Its subject is the entry's actor, the member it belongs
// to, for erasure (DeleteMemberTexts).
//
// An HQ without a notes key checks the texts all the same, stores the
// leaves, and keeps no text (it says so in its log once): the kiosk
// keeps its own copy, and HQ holds nothing it cannot protect.
//
// Who sees a text (eventTexts): owners and admins every one; site
// managers, staff and contractors only those of events at a site where
// they hold a key set out now (the custody table), the property unlock
// model; auditors and kiosks none ("notes only to admins": an auditor
// reads the whole record but for its personal text).

// PersonalText is one personal text a kiosk sent with a push: the text of
// field ("recipient" or "notes") of the entry at LogIndex, and the salt of
// its reference.
type PersonalText struct {
	LogIndex int64
	Field    string
	Salt     []byte
	Text     string
}

// The fields of an entry that hold a personal text's reference
// (audit.Event.PersonalRefs): a recipient, notes, and from sync/wire
// minor 8 the value of a badge linked at a kiosk's touchscreen (its hex
// badge hash), which HQ checks the same way and applies (kioskchange.go)
// but never keeps here: the badges row it makes is the value, and
// erasure deletes it.
const (
	FieldRecipient = audit.FieldRecipient
	FieldNotes     = audit.FieldNotes
	FieldBadge     = audit.FieldBadge
)

// checkedText is a PersonalText found to be what its entry commits to.
type checkedText struct {
	PersonalText
	subject string // the entry's actor
}

// CheckPersonalTexts checks texts sent with the leaves [start,
// start+len(leaves)) of a kiosk's log: each must be the text its entry's
// reference in its field stands for. The first text that is not is an
// EINVALID error naming it.
func CheckPersonalTexts(start int64, leaves [][]byte, texts []PersonalText) error {
	_, err := checkTexts(start, leaves, texts)
	return err
}

func checkTexts(start int64, leaves [][]byte, texts []PersonalText) ([]checkedText, error) {
	if len(texts) > 3*len(leaves) {
		return nil, invalid("%d personal texts for %d entries: at most three an entry", len(texts), len(leaves))
	}
	out := make([]checkedText, 0, len(texts))
	seen := map[string]bool{}
	decoded := map[int64]*audit.Event{}
	for i, pt := range texts {
		bad := func(format string, args ...any) error {
			return invalid("personal text %d (entry %d, %.20q): "+format, append([]any{i, pt.LogIndex, pt.Field}, args...)...)
		}
		switch {
		case pt.Field != FieldRecipient && pt.Field != FieldNotes && pt.Field != FieldBadge:
			return nil, bad("the field must be %s, %s or %s", FieldRecipient, FieldNotes, FieldBadge)
		case pt.LogIndex < start || pt.LogIndex >= start+int64(len(leaves)):
			return nil, bad("not an entry of this push (%d to %d)", start, start+int64(len(leaves))-1)
		case len(pt.Salt) != 32:
			return nil, bad("the salt is %d bytes, not 32", len(pt.Salt))
		case pt.Text == "":
			return nil, bad("empty")
		case len(pt.Text) > audit.MaxPersonalText:
			return nil, bad("%d bytes, more than %d", len(pt.Text), audit.MaxPersonalText)
		case strings.IndexByte(pt.Text, 0) >= 0:
			return nil, bad("holds a NUL byte")
		case !utf8.ValidString(pt.Text):
			return nil, bad("not valid UTF-8")
		}
		key := strconv.FormatInt(pt.LogIndex, 10) + pt.Field
		if seen[key] {
			return nil, bad("sent twice")
		}
		seen[key] = true
		ev := decoded[pt.LogIndex]
		if ev == nil {
			var err error
			if ev, err = audit.Decode(leaves[pt.LogIndex-start]); err != nil {
				return nil, bad("its entry does not decode: %v", err)
			}
			decoded[pt.LogIndex] = ev
		}
		ref := ev.Reference(pt.Field)
		if ref == nil {
			return nil, bad("the entry carries no reference in that field")
		}
		if !bytes.Equal(audit.PersonalRef(pt.Salt, pt.Text), ref.Ref) {
			return nil, bad("tampered: the text and salt do not match the reference the entry carries")
		}
		out = append(out, checkedText{pt, ref.Subject})
	}
	return out, nil
}

func personalAD(orgID, kioskID string, index int64, field string) []byte {
	return fmt.Appendf(nil, "keycab personal text v1\x00%s\x00%s\x00%d\x00%s", orgID, kioskID, index, field)
}

// RecordTexts checks the personal texts sent with the leaves [start,
// start+len(leaves)) just appended (CheckPersonalTexts) and keeps them,
// sealed; a text that fails the check fails the transaction, so nothing
// of the push is stored. Without a notes key the texts are checked and
// not kept. Badge values (FieldBadge) are not kept here: they are held
// for the badge.linked changes of the same leaves, so call RecordTexts
// before RecordEvents.
func (l *LogTx) RecordTexts(ctx context.Context, start int64, leaves [][]byte, texts []PersonalText) error {
	checked, err := checkTexts(start, leaves, texts)
	if err != nil || len(checked) == 0 {
		return err
	}
	t := l.t
	kept := checked[:0:0]
	for _, c := range checked {
		if c.Field != FieldBadge {
			kept = append(kept, c)
			continue
		}
		if t.badges == nil {
			t.badges = map[int64]string{}
		}
		t.badges[c.LogIndex] = c.Text
	}
	if checked = kept; len(checked) == 0 {
		return nil
	}
	if t.s.notes == nil {
		if t.s.noKeyWarned.CompareAndSwap(false, true) {
			t.s.log.Warn("no notes key: kiosks' personal texts (recipient, notes) are checked and not kept at HQ")
		}
		return nil
	}
	for _, c := range checked {
		sealed, err := t.s.notes.seal(append(append([]byte{}, c.Salt...), c.Text...), personalAD(t.org(), l.log.KioskID, c.LogIndex, c.Field))
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO personal_texts (org_id, kiosk_id, log_index, field, subject, sealed) VALUES ($1, $2, $3, $4, $5, $6)`,
			t.org(), l.log.KioskID, c.LogIndex, c.Field, storableText(c.subject), sealed); err != nil {
			return err
		}
	}
	return nil
}

// storableText replaces what HQ cannot store in a text column (NUL,
// invalid UTF-8) with U+FFFD: an entry's actor is signed kiosk data.
func storableText(s string) string {
	if keycab.ValidText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// openPersonal opens a sealed personal text of its row: the salt and the
// text.
func (s *Store) openPersonal(orgID, kioskID string, index int64, field string, sealed []byte) (salt []byte, text string, err error) {
	pt, err := s.notes.open(sealed, personalAD(orgID, kioskID, index, field), fmt.Sprintf("personal text %s of %s entry %d", field, kioskID, index))
	if err != nil {
		return nil, "", err
	}
	if len(pt) < 32 {
		return nil, "", fmt.Errorf("personal text %s of %s entry %d: too short", field, kioskID, index)
	}
	return pt[:32], string(pt[32:]), nil
}

// textSites returns the sites whose events' personal texts the principal
// may read, and all = true for every site: owners and admins read every
// text; site managers, staff and contractors those of sites where they
// hold a key set now; others none.
func (t *tx) textSites(ctx context.Context) (sites map[string]bool, all bool, err error) {
	switch t.p.role {
	case keycab.RoleOwner, keycab.RoleAdmin:
		return nil, true, nil
	case keycab.RoleSiteManager, keycab.RoleStaff, keycab.RoleContractor:
	default:
		return nil, false, nil
	}
	rows, err := t.query(ctx, `SELECT DISTINCT k.site_id FROM custody c
		JOIN key_sets k ON k.org_id = c.org_id AND k.id = c.key_set_id
		WHERE c.org_id = $1 AND c.member_id = $2`, t.org(), t.p.member)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	sites = map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, false, err
		}
		sites[id] = true
	}
	return sites, false, rows.Err()
}

// visibleByKiosk calls fn once a kiosk for the events of it whose
// personal record (texts, camera stills) the principal may see
// (textSites; none without a notes key); sites[i] is the site of
// events[i]. fn gets the kiosk, the placeholders of their log indexes
// ("$3, $4, ..." after the organisation and the kiosk, which args
// already hold) and the position in events of a log index.
func (t *tx) visibleByKiosk(ctx context.Context, events []Event, sites []string, fn func(kiosk, in string, args []any, at func(index int64) int) error) error {
	if len(events) == 0 || t.s.notes == nil {
		return nil
	}
	may, all, err := t.textSites(ctx)
	if err != nil || (!all && len(may) == 0) {
		return err
	}
	type at struct {
		kiosk string
		index int64
	}
	byKiosk := map[string][]int64{}
	pos := map[at]int{}
	for i, e := range events {
		if all || may[sites[i]] {
			byKiosk[e.KioskID] = append(byKiosk[e.KioskID], e.LogIndex)
			pos[at{e.KioskID, e.LogIndex}] = i
		}
	}
	for kiosk, idx := range byKiosk {
		args := []any{t.org(), kiosk}
		ph := make([]string, len(idx))
		for i, x := range idx {
			args = append(args, x)
			ph[i] = "$" + strconv.Itoa(i+3)
		}
		if err := fn(kiosk, strings.Join(ph, ", "), args, func(index int64) int { return pos[at{kiosk, index}] }); err != nil {
			return err
		}
	}
	return nil
}

// eventTexts fills in the personal texts of the events the principal may
// read them of (visibleByKiosk). A text that does not open (another notes
// key) is left out and logged.
func (t *tx) eventTexts(ctx context.Context, events []Event, sites []string) error {
	return t.visibleByKiosk(ctx, events, sites, func(kiosk, in string, args []any, at func(int64) int) error {
		rows, err := t.query(ctx, "SELECT log_index, field, sealed FROM personal_texts WHERE org_id = $1 AND kiosk_id = $2 AND log_index IN ("+in+")", args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var index int64
			var field string
			var sealed []byte
			if err := rows.Scan(&index, &field, &sealed); err != nil {
				return err
			}
			_, text, err := t.s.openPersonal(t.org(), kiosk, index, field, sealed)
			if err != nil {
				t.s.log.Error("personal text does not open", "org", t.org(), "err", err)
				continue
			}
			events[at(index)].setText(field, text)
		}
		return rows.Err()
	})
}

// setText sets the event's text of field.
func (e *Event) setText(field, text string) {
	if field == FieldRecipient {
		e.Recipient = text
	} else {
		e.Notes = text
	}
}

// DeleteMemberTexts deletes every personal text HQ keeps of a member (its
// subject), for erasure; owners and admins only, recorded in the admin
// log. It returns how many were deleted.
func (s *Store) DeleteMemberTexts(ctx context.Context, sc Scope, memberID string) (int64, error) {
	var n int64
	err := s.write(ctx, "delete member texts", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("deleting a member's personal texts"); err != nil {
			return err
		}
		var err error
		if n, err = t.deleteMemberTexts(ctx, memberID); err != nil {
			return err
		}
		return t.logAction(ctx, "member.texts_deleted", memberID, fmt.Sprintf("%d personal texts", n))
	})
	return n, err
}

// deleteMemberTexts deletes a member's personal texts in the transaction's
// organisation.
func (t *tx) deleteMemberTexts(ctx context.Context, memberID string) (int64, error) {
	res, err := t.exec(ctx, "DELETE FROM personal_texts WHERE org_id = $1 AND subject = $2", t.org(), memberID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// The notes key's generation and check value (table notes_key).

var checkPlain = []byte("keycab notes key check")

func checkAD(gen byte) []byte { return fmt.Appendf(nil, "keycab notes key check v1\x00%d", gen) }

// loadNotesKey returns the sealer of key at the database's notes key
// generation, once the key opens the database's check value; the first
// store opened with a key writes that value.
func (s *Store) loadNotesKey(ctx context.Context, key []byte) (*sealer, error) {
	var gen int
	var check []byte
	if err := s.db.QueryRowContext(ctx, "SELECT generation, check_value FROM notes_key WHERE id = 1").Scan(&gen, &check); err != nil {
		return nil, fmt.Errorf("read notes key generation: %w", err)
	}
	sl, err := newSealer(key, byte(gen))
	if err != nil {
		return nil, err
	}
	if check == nil {
		if check, err = sl.seal(checkPlain, checkAD(sl.gen)); err != nil {
			return nil, err
		}
		if _, err := s.db.ExecContext(ctx, "UPDATE notes_key SET check_value = $1 WHERE id = 1 AND check_value IS NULL", check); err != nil {
			return nil, fmt.Errorf("write notes key check: %w", err)
		}
		return sl, nil
	}
	if pt, err := sl.open(check, checkAD(sl.gen), "notes key check"); err != nil || !bytes.Equal(pt, checkPlain) {
		return nil, fmt.Errorf("the notes key given is not the one this database's values are sealed under (generation %d): after rotate-notes-key, give the new key", gen)
	}
	return sl, nil
}

// RotationCount is what RotateNotesKey re-sealed, by kind.
type RotationCount struct {
	Generation     int // the new key's
	SiteNotes      int
	TOTPSecrets    int
	MailBodies     int
	PersonalTexts  int
	WebhookSecrets int
	Stills         int `json:",omitempty"` // camera stills (stills.go)
}

// RotateNotesKey re-seals every value sealed with the store's notes key
// (site notes, TOTP secrets, retried mail bodies, personal texts, camera
// stills, webhook secrets) under
// newKey, at the next generation, in one transaction over every
// organisation, and records the rotation in each organisation's admin
// log. A value that does not open under the current key fails it, and
// nothing changes. Run it with every HQ process stopped (they hold the
// old key), then start them with the new key: the store refuses the old
// one from then on.
func (s *Store) RotateNotesKey(ctx context.Context, newKey []byte) (RotationCount, error) {
	var rc RotationCount
	if s.notes == nil {
		return rc, keycab.Errorf(keycab.EINVALID, "rotate notes key: open the store with the current notes key")
	}
	next, err := newSealer(newKey, s.notes.gen%255+1)
	if err != nil {
		return rc, keycab.Errorf(keycab.EINVALID, "rotate notes key: %v", err)
	}
	rc.Generation = int(next.gen)
	err = s.global(ctx, "rotate notes key", true, func(ctx context.Context, t *tx) error {
		var err error
		// Accounts' own rows first, with no tenant set.
		if rc.TOTPSecrets, err = t.reseal(ctx, next, "SELECT id, totp_secret, totp_pending FROM accounts WHERE totp_secret IS NOT NULL OR totp_pending IS NOT NULL",
			"UPDATE accounts SET totp_secret = $1, totp_pending = $2 WHERE id = $3", func(id string) []byte { return totpAD(id) }, "totp secret"); err != nil {
			return err
		}
		// The retried mail of the transaction's organisation ('' first:
		// accounts' own).
		mail := func() (int, error) {
			return t.reseal(ctx, next, "SELECT id, body FROM mail_retry WHERE org_id = $1",
				"UPDATE mail_retry SET body = $1 WHERE id = $2 AND org_id = $3", func(id string) []byte { return mailAD(id) }, "mail")
		}
		if rc.MailBodies, err = mail(); err != nil {
			return err
		}
		orgs, err := t.orgIDs(ctx)
		if err != nil {
			return err
		}
		for _, org := range orgs {
			if err := t.bind(ctx, org); err != nil {
				return err
			}
			n, err := t.reseal(ctx, next, "SELECT id, notes FROM sites WHERE org_id = $1 AND notes IS NOT NULL",
				"UPDATE sites SET notes = $1 WHERE org_id = $3 AND id = $2", func(id string) []byte { return notesAD(org, id) }, "site notes")
			if err != nil {
				return err
			}
			rc.SiteNotes += n
			if n, err = mail(); err != nil {
				return err
			}
			rc.MailBodies += n
			if n, err = t.resealTexts(ctx, next); err != nil {
				return err
			}
			rc.PersonalTexts += n
			if n, err = t.resealStills(ctx, next); err != nil {
				return err
			}
			rc.Stills += n
			if n, err = t.reseal(ctx, next, "SELECT id, secret, old_secret FROM webhooks WHERE org_id = $1",
				"UPDATE webhooks SET secret = $1, old_secret = $2 WHERE id = $3 AND org_id = $4", func(id string) []byte { return webhookAD(org, id) }, "webhook secret"); err != nil {
				return err
			}
			rc.WebhookSecrets += n
			// Takes waiting for confirmation live minutes at most: they
			// go rather than be re-sealed (migration 0022).
			if _, err := t.exec(ctx, "DELETE FROM pending_releases WHERE org_id = $1", org); err != nil {
				return err
			}
			if err := t.logAction(ctx, "notes_key.rotate", strconv.Itoa(rc.Generation), fmt.Sprintf("notes key generation %d to %d: every sealed value of the organisation re-sealed", s.notes.gen, next.gen)); err != nil {
				return err
			}
		}
		check, err := next.seal(checkPlain, checkAD(next.gen))
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, "UPDATE notes_key SET generation = $1, check_value = $2 WHERE id = 1", int(next.gen), check)
		return err
	})
	if err != nil {
		return RotationCount{Generation: int(s.notes.gen)}, err
	}
	s.notes = next
	return rc, nil
}

// orgIDs returns every organisation's id (as NoticeOrgs does).
func (t *tx) orgIDs(ctx context.Context) ([]string, error) {
	rows, err := t.query(ctx, t.byEngine("SELECT org_id FROM org_directory ORDER BY org_id", "SELECT * FROM keycab_org_ids()"))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// reseal re-seals under next the sealed columns that sel reads after each
// row's id (one or two, NULL or not), and writes them back with upd (the
// values, then the id, then the transaction's organisation). ad gives a
// row's associated data. It returns the number of values re-sealed.
func (t *tx) reseal(ctx context.Context, next *sealer, sel, upd string, ad func(id string) []byte, what string) (int, error) {
	type row struct {
		id   string
		vals [][]byte
	}
	var args []any
	if strings.Contains(sel, "$1") {
		args = append(args, t.org())
	}
	rows, err := t.query(ctx, sel, args...) // sel's $1, if any: the organisation
	if err != nil {
		return 0, err
	}
	cols, err := rows.Columns()
	if err != nil {
		rows.Close()
		return 0, err
	}
	var all []row
	for rows.Next() {
		r := row{vals: make([][]byte, len(cols)-1)}
		dest := []any{&r.id}
		for i := range r.vals {
			dest = append(dest, &r.vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, r := range all {
		args := make([]any, 0, len(r.vals)+2)
		for _, v := range r.vals {
			nv, err := next.reseal(t.s.notes, v, ad(r.id), what+" "+r.id)
			if err != nil {
				return 0, err
			}
			if len(v) > 0 {
				n++
				args = append(args, nv)
			} else {
				args = append(args, nil)
			}
		}
		args = append(args, r.id)
		if strings.Contains(upd, "$"+strconv.Itoa(len(r.vals)+2)) {
			args = append(args, t.org())
		}
		if _, err := t.exec(ctx, upd, args...); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// resealTexts re-seals the organisation's personal texts under next.
func (t *tx) resealTexts(ctx context.Context, next *sealer) (int, error) {
	return t.resealByEntry(ctx, next, "personal_texts", true, func(kiosk string, index int64, field string) ([]byte, string) {
		return personalAD(t.org(), kiosk, index, field), fmt.Sprintf("personal text %s of %s entry %d", field, kiosk, index)
	})
}

// resealByEntry re-seals under next the sealed column of table, whose
// rows are an entry's (kiosk and log index, and with field its field
// too); ad gives a row's associated data and what to call it in an
// error.
func (t *tx) resealByEntry(ctx context.Context, next *sealer, table string, field bool, ad func(kiosk string, index int64, field string) ([]byte, string)) (int, error) {
	type row struct {
		kiosk, field string
		index        int64
		sealed       []byte
	}
	cols := "kiosk_id, log_index, sealed"
	if field {
		cols = "kiosk_id, log_index, sealed, field"
	}
	rows, err := t.query(ctx, "SELECT "+cols+" FROM "+table+" WHERE org_id = $1", t.org())
	if err != nil {
		return 0, err
	}
	var all []row
	for rows.Next() {
		var r row
		dest := []any{&r.kiosk, &r.index, &r.sealed}
		if field {
			dest = append(dest, &r.field)
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, r := range all {
		data, what := ad(r.kiosk, r.index, r.field)
		nv, err := next.reseal(t.s.notes, r.sealed, data, what)
		if err != nil {
			return 0, err
		}
		upd, args := "UPDATE "+table+" SET sealed = $1 WHERE org_id = $2 AND kiosk_id = $3 AND log_index = $4", []any{nv, t.org(), r.kiosk, r.index}
		if field {
			upd, args = upd+" AND field = $5", append(args, r.field)
		}
		if _, err := t.exec(ctx, upd, args...); err != nil {
			return 0, err
		}
	}
	return len(all), nil
}
