// Package export writes HQ's records for people outside HQ: the
// subject-access archive of one member (WriteSubjectArchive: JSON and
// CSV in one zip), with every CSV cell made safe for spreadsheets (Cell).
// The edges (hq/api, hq/dashboard) decide who may have an export and how
// it is delivered; this package only lays it out.
package export

import (
	"archive/zip"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// SubjectArchiveType is the media type of WriteSubjectArchive's output.
const SubjectArchiveType = "application/zip"

// Cell makes s safe as a CSV cell that a spreadsheet opens: a leading
// character that would make it a formula is escaped with an apostrophe
// (OWASP's CSV injection advice).
func Cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// SubjectArchiveName is a file name for a member's archive.
func SubjectArchiveName(rec store.SubjectRecord) string {
	return "keycab-subject-" + rec.Member.ID + "-" + rec.MadeAt.UTC().Format("20060102T150405Z") + ".zip"
}

// WriteSubjectArchive writes rec as a zip: subject.json with every part,
// one CSV per part, and a README.txt that says what is in it.
func WriteSubjectArchive(w io.Writer, rec store.SubjectRecord) error {
	z := zip.NewWriter(w)
	modified := rec.MadeAt.UTC()
	add := func(name string, write func(io.Writer) error) error {
		f, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modified})
		if err != nil {
			return err
		}
		return write(f)
	}
	if err := add("README.txt", func(w io.Writer) error { _, err := io.WriteString(w, readme(rec)); return err }); err != nil {
		return err
	}
	if err := add("subject.json", func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(subjectJSON(rec))
	}); err != nil {
		return err
	}
	for _, t := range subjectTables(rec) {
		if err := add(t.name+".csv", func(w io.Writer) error { return writeCSV(w, t.header, t.rows) }); err != nil {
			return err
		}
	}
	for _, st := range rec.Stills {
		if err := add(stillName(st), func(w io.Writer) error { _, err := w.Write(st.JPEG); return err }); err != nil {
			return err
		}
	}
	return z.Close()
}

func writeCSV(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, r := range rows {
		for i := range r {
			r[i] = Cell(r[i])
		}
		if err := cw.Write(r); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func readme(rec store.SubjectRecord) string {
	return fmt.Sprintf(`keycab subject access archive

Member:        %s
Organisation:  %s (%s)
Made:          %s, at the request of member %s

subject.json holds everything below in one document; each .csv file holds
one part of it:
  profile.csv       the member's profile and sign-in account
  badges.csv        badges (HQ keeps only a keyed hash of each badge code)
  groups.csv        member groups
  events.csv        custody history they took part in (as the actor or an approver)
  holding.csv       key sets they hold now
  jobs.csv          contractor jobs
  reservations.csv  reservations
  sessions.csv      sign-in sessions (never their tokens)
  deliveries.csv    mail this organisation sent to their address
  admin_log.csv     admin-log entries they made or that name them
  stills/           camera stills of entries they made, KIOSK-INDEX.jpg
                    (the kiosk's id and the entry's index in its log)

Times are UTC (RFC 3339). The kiosks' own audit logs name people by id
only; recipients and notes a kiosk recorded stay on that kiosk.
`, rec.Member.ID, rec.OrgName, rec.OrgID, stamp(rec.MadeAt), rec.MadeBy)
}

// stillName is a still's file in the archive.
func stillName(st store.SubjectStill) string {
	return fmt.Sprintf("stills/%s-%d.jpg", safeName(st.KioskID), st.LogIndex)
}

// safeName keeps a kiosk id to letters, digits, '-' and '_' in a file
// name (ids are HQ's own, but a zip entry name must not climb out).
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
}

// stamp is a time for the archive: RFC 3339 UTC, "" for never.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

type table struct {
	name   string
	header []string
	rows   [][]string
}

func subjectTables(rec store.SubjectRecord) []table {
	m := rec.Member
	profile := table{name: "profile", header: []string{"field", "value"}, rows: [][]string{
		{"member_id", m.ID}, {"org_id", rec.OrgID}, {"name", m.Name}, {"email", m.Email}, {"role", string(m.Role)},
		{"sites", strings.Join(m.SiteIDs, " ")}, {"has_pin", strconv.FormatBool(rec.HasPIN)},
		{"max_keys_out", strconv.Itoa(m.MaxKeysOut)}, {"access_until", stamp(m.AccessUntil)},
		{"disabled", strconv.FormatBool(m.Disabled)}, {"erased_at", stamp(m.ErasedAt)},
	}}
	for _, w := range m.Schedule {
		profile.rows = append(profile.rows, []string{"schedule", window(w)})
	}
	if a := rec.Account; a != nil {
		profile.rows = append(profile.rows, [][]string{{"account_id", a.ID}, {"account_email", a.Email}, {"account_name", a.Name},
			{"account_created_at", stamp(a.CreatedAt)}, {"password_set", strconv.FormatBool(a.PasswordSet)},
			{"password_changed_at", stamp(a.PasswordChangedAt)}, {"mfa", strconv.FormatBool(a.MFA)}}...)
	}
	badges := table{name: "badges", header: []string{"kind", "hash", "revoked_at", "linked_at_kiosk"}}
	for _, b := range rec.Badges {
		badges.rows = append(badges.rows, []string{string(b.Kind), hex.EncodeToString(b.Hash), stamp(b.RevokedAt), b.Kiosk})
	}
	groups := table{name: "groups", header: []string{"group"}}
	for _, g := range rec.Groups {
		groups.rows = append(groups.rows, []string{g})
	}
	events := table{name: "events", header: []string{"at", "kind", "kiosk_id", "log_index", "actor_id", "second_id", "third_id",
		"key_set_id", "cabinet_id", "slot", "reason", "recipient", "notes", "via", "due_at", "detail", "context"}}
	for _, e := range rec.Events {
		events.rows = append(events.rows, []string{stamp(e.At), string(e.Kind), e.KioskID, strconv.FormatInt(e.LogIndex, 10), e.ActorID,
			e.SecondID, e.ThirdID, e.KeySetID, e.CabinetID, slot(e.Slot), e.Reason, e.Recipient, e.Notes, e.Via, stamp(e.DueAt), e.Detail, e.Context})
	}
	holding := table{name: "holding", header: []string{"key_set_id", "site_id", "taken_at", "due_at", "kiosk_id", "log_index"}}
	for _, h := range rec.Holding {
		holding.rows = append(holding.rows, []string{h.KeySetID, h.SiteID, stamp(h.TakenAt), stamp(h.DueAt), h.KioskID, strconv.FormatInt(h.LogIndex, 10)})
	}
	jobs := table{name: "jobs", header: []string{"job_id", "descriptor", "from", "until", "key_set_ids"}}
	for _, j := range rec.Jobs {
		jobs.rows = append(jobs.rows, []string{j.ID, j.Descriptor, stamp(j.From), stamp(j.Until), strings.Join(j.KeySetIDs, " ")})
	}
	res := table{name: "reservations", header: []string{"reservation_id", "key_set_id", "from", "until"}}
	for _, r := range rec.Reservations {
		res.rows = append(res.rows, []string{r.ID, r.KeySetID, stamp(r.From), stamp(r.Until)})
	}
	sessions := table{name: "sessions", header: []string{"session_id", "family_id", "created_at", "last_used_at", "expires_at", "rotated_at", "revoked_at"}}
	for _, s := range rec.Sessions {
		sessions.rows = append(sessions.rows, []string{s.ID, s.FamilyID, stamp(s.CreatedAt), stamp(s.LastUsed), stamp(s.ExpiresAt), stamp(s.RotatedAt), stamp(s.RevokedAt)})
	}
	deliveries := table{name: "deliveries", header: []string{"at", "kind", "to", "subject", "status", "error"}}
	for _, d := range rec.Deliveries {
		deliveries.rows = append(deliveries.rows, []string{stamp(d.At), d.Kind, d.To, d.Subject, d.Status, d.Error})
	}
	log := table{name: "admin_log", header: []string{"at", "actor_id", "actor_role", "action", "target", "detail"}}
	for _, a := range rec.AdminLog {
		log.rows = append(log.rows, []string{stamp(a.At), a.ActorID, string(a.ActorRole), a.Action, a.Target, a.Detail})
	}
	return []table{profile, badges, groups, events, holding, jobs, res, sessions, deliveries, log}
}

// window is a weekly window as "Mon Tue 08:00-18:00".
func window(w keycab.Window) string {
	var b strings.Builder
	for _, d := range w.Days {
		b.WriteString(d.String()[:3] + " ")
	}
	fmt.Fprintf(&b, "%02d:%02d-%02d:%02d", w.From/60, w.From%60, w.Until/60, w.Until%60)
	return b.String()
}

func slot(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// subjectJSON is subject.json: each part under its CSV file's name,
// with the same columns as fields.
func subjectJSON(rec store.SubjectRecord) map[string]any {
	out := map[string]any{
		"made_at":      stamp(rec.MadeAt),
		"requested_by": rec.MadeBy,
		"organisation": map[string]string{"id": rec.OrgID, "name": rec.OrgName},
	}
	for _, t := range subjectTables(rec) {
		if t.name == "profile" {
			p := map[string]any{}
			var schedule []string
			for _, r := range t.rows {
				if r[0] == "schedule" {
					schedule = append(schedule, r[1])
					continue
				}
				p[r[0]] = r[1]
			}
			p["schedule"] = schedule
			out["profile"] = p
			continue
		}
		rows := make([]map[string]string, 0, len(t.rows))
		for _, r := range t.rows {
			o := make(map[string]string, len(r))
			for i, h := range t.header {
				o[h] = r[i]
			}
			rows = append(rows, o)
		}
		out[t.name] = rows
	}
	stills := make([]map[string]any, 0, len(rec.Stills))
	for _, st := range rec.Stills {
		stills = append(stills, map[string]any{"kiosk_id": st.KioskID, "log_index": st.LogIndex, "file": stillName(st)})
	}
	out["stills"] = stills
	return out
}
