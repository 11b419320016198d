package store

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"keycab.dev/keycab"
)

// Bulk import: people (with a badge each, optionally), key sets and
// badges from CSV, all or nothing. Import reads the whole file, tries
// every row in one transaction (each row in a savepoint, so that one bad
// row does not hide the errors of the next), and commits only when asked
// to and no row failed; a preview is the same run rolled back, so it
// reports exactly what the import would do, caps and permissions
// included.

// ImportKind names what a CSV file holds.
type ImportKind string

const (
	ImportPeople  ImportKind = "people"
	ImportKeySets ImportKind = "key_sets"
	ImportBadges  ImportKind = "badges"
)

// MaxImportRows bounds the rows of one import, and MaxImportBytes its
// file (about 5,000 rows of people).
const (
	MaxImportRows  = 5000
	MaxImportBytes = 2 << 20
)

// importColumns are each kind's columns: the required ones first, then
// the optional ones. A file's header names its columns, in any order.
var importColumns = map[ImportKind]struct{ required, optional []string }{
	ImportPeople:  {[]string{"name"}, []string{"email", "role", "sites", "badge_kind", "badge_code"}},
	ImportKeySets: {[]string{"label", "site"}, []string{"sensitive", "triple_release", "pin_required", "max_out"}},
	ImportBadges:  {[]string{"member", "kind", "code"}, nil},
}

// ImportKinds returns the kinds Import reads, with their columns.
func ImportKinds() map[ImportKind][]string {
	out := map[ImportKind][]string{}
	for k, c := range importColumns {
		out[k] = append(slices.Clone(c.required), c.optional...)
	}
	return out
}

// ImportRow is what one line of the file does, or why it cannot.
type ImportRow struct {
	Line  int    // the line in the file (the header is line 1)
	What  string // what it adds, in words: "Ann Owner (staff)"
	ID    string // the id it got (set only when the import was applied)
	Error string // why the line cannot be imported, in English; empty when it can
	Err   error  // the same as an error, to say in the reader's language (keycab.ErrorMessageIn)
}

// ImportResult is the outcome of an import or its preview.
type ImportResult struct {
	Kind    ImportKind
	Rows    []ImportRow
	Errors  int  // rows with an error, the header's included
	Applied bool // the rows are stored
}

var errPreview = errors.New("import preview: rolled back")

// Import reads a CSV file of kind and adds what it lists as the scope's
// principal may (the same checks as adding each by hand). With apply
// false, or when any line has an error, nothing is stored: the result
// says line by line what would be added and what is wrong, and an apply
// with errors also returns EINVALID. A file that cannot be read at all
// (no header, a malformed CSV line, too many rows) is one error on its
// line. Every row added is in the admin log as if added by hand, and the
// import as import.<kind> with its count.
func (s *Store) Import(ctx context.Context, sc Scope, kind ImportKind, data []byte, apply bool) (ImportResult, error) {
	res := ImportResult{Kind: kind}
	cols, ok := importColumns[kind]
	if !ok {
		return res, invalid("unknown import kind %q: use people, key_sets or badges", kind)
	}
	if len(data) > MaxImportBytes {
		return res, keycab.Errorf(keycab.ETOOLARGE, "the file is larger than %d MiB: split it", MaxImportBytes>>20)
	}
	header, records, perr := readImportCSV(data, cols.required, cols.optional)
	if perr != nil {
		res.Rows, res.Errors = []ImportRow{*perr}, 1
		if apply {
			return res, invalid("line %d: %s; nothing was imported", perr.Line, perr.Error)
		}
		return res, nil
	}
	err := s.write(ctx, "import "+string(kind), sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("importing"); err != nil {
			return err
		}
		if !t.p.isAdmin() && t.p.role != keycab.RoleSiteManager {
			return forbidden("importing needs an owner, admin or site manager")
		}
		im := importer{t: t, emails: map[string]int{}}
		if err := im.load(ctx); err != nil {
			return err
		}
		res.Rows, res.Errors = nil, 0
		for _, r := range records {
			row := ImportRow{Line: r.line}
			im.line = r.line
			get := func(col string) string { return r.field(header, col) }
			err := t.savepoint(ctx, func() error {
				var err error
				switch kind {
				case ImportPeople:
					row.What, row.ID, err = im.person(ctx, get)
				case ImportKeySets:
					row.What, row.ID, err = im.keySet(ctx, get)
				case ImportBadges:
					row.What, row.ID, err = im.badge(ctx, get)
				}
				return err
			})
			if err != nil {
				if keycab.ErrorCode(err) == "" {
					return err // the database failed, not the line
				}
				row.Error, row.Err, row.ID = keycab.ErrorMessage(err), err, ""
				res.Errors++
			}
			res.Rows = append(res.Rows, row)
		}
		if !apply || res.Errors > 0 {
			return errPreview
		}
		return t.logAction(ctx, "import."+string(kind), "", fmt.Sprintf("%d rows", len(res.Rows)))
	})
	switch {
	case errors.Is(err, errPreview):
		for i := range res.Rows {
			res.Rows[i].ID = ""
		}
		if apply {
			return res, invalid("%d of %d lines have errors; nothing was imported", res.Errors, len(res.Rows))
		}
		return res, nil
	case err != nil:
		return ImportResult{Kind: kind}, err
	}
	res.Applied = true
	return res, nil
}

// importRecord is one line of the file.
type importRecord struct {
	line   int
	fields []string
}

func (r importRecord) field(header map[string]int, col string) string {
	if i, ok := header[col]; ok && i < len(r.fields) {
		return strings.TrimSpace(r.fields[i])
	}
	return ""
}

// readImportCSV reads the header and the records of a file, or the one
// error that stops it being read.
func readImportCSV(data []byte, required, optional []string) (map[string]int, []importRecord, *ImportRow) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a spreadsheet's byte-order mark
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, nil, &ImportRow{Line: 1 + bytes.Count(data[:i], []byte("\n")), Error: "the file holds a NUL byte: is it a CSV file?"}
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	names, err := r.Read()
	if err == io.EOF {
		return nil, nil, &ImportRow{Line: 1, Error: "the file is empty: its first line names the columns (" + strings.Join(append(slices.Clone(required), optional...), ", ") + ")"}
	} else if err != nil {
		return nil, nil, &ImportRow{Line: 1, Error: csvError(err)}
	}
	header := map[string]int{}
	for i, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if !slices.Contains(required, n) && !slices.Contains(optional, n) {
			return nil, nil, &ImportRow{Line: 1, Error: fmt.Sprintf("unknown column %q: the columns are %s", n, strings.Join(append(slices.Clone(required), optional...), ", "))}
		}
		if _, dup := header[n]; dup {
			return nil, nil, &ImportRow{Line: 1, Error: fmt.Sprintf("column %q appears twice", n)}
		}
		header[n] = i
	}
	for _, c := range required {
		if _, ok := header[c]; !ok {
			return nil, nil, &ImportRow{Line: 1, Error: fmt.Sprintf("the header lacks the column %q", c)}
		}
	}
	var out []importRecord
	for {
		line, _ := r.FieldPos(0)
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			return nil, nil, &ImportRow{Line: line, Error: csvError(err)}
		}
		line, _ = r.FieldPos(0)
		blank := true
		for _, f := range rec {
			if !utf8.ValidString(f) {
				return nil, nil, &ImportRow{Line: line, Error: "the line is not valid UTF-8: save the file as UTF-8 CSV"}
			}
			blank = blank && strings.TrimSpace(f) == ""
		}
		if blank {
			continue
		}
		if len(out) == MaxImportRows {
			return nil, nil, &ImportRow{Line: line, Error: fmt.Sprintf("more than %d rows: split the file", MaxImportRows)}
		}
		out = append(out, importRecord{line: line, fields: rec})
	}
	if len(out) == 0 {
		return nil, nil, &ImportRow{Line: 2, Error: "the file has a header and no rows"}
	}
	return header, out, nil
}

func csvError(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return "not valid CSV: " + pe.Err.Error()
	}
	return "not valid CSV: " + err.Error()
}

// importer adds rows in one transaction, resolving names against the
// organisation and against the rows before.
type importer struct {
	t     *tx
	sites map[string]string // lower-cased name or id -> id
	// emails maps each address of the people added so far to its line,
	// to name the line a repeat repeats.
	emails map[string]int
	line   int // the line being added
}

func (im *importer) load(ctx context.Context) error {
	sites, err := im.t.sites(ctx, "")
	if err != nil {
		return err
	}
	im.sites = map[string]string{}
	for _, s := range sites {
		im.sites[strings.ToLower(s.ID)] = s.ID
		if _, dup := im.sites[strings.ToLower(s.Name)]; dup {
			im.sites[strings.ToLower(s.Name)] = "" // two sites of this name: use the id
			continue
		}
		im.sites[strings.ToLower(s.Name)] = s.ID
	}
	return nil
}

func (im *importer) site(name string) (string, error) {
	id, ok := im.sites[strings.ToLower(strings.TrimSpace(name))]
	switch {
	case !ok:
		return "", invalid("no site %q", name)
	case id == "":
		return "", invalid("two sites are called %q: give the site's id", name)
	}
	return id, nil
}

func (im *importer) person(ctx context.Context, get func(string) string) (string, string, error) {
	m := keycab.Member{Name: get("name"), Email: strings.ToLower(get("email")), Role: keycab.Role(strings.ToLower(strings.ReplaceAll(get("role"), " ", "_")))}
	if m.Role == "" {
		m.Role = keycab.RoleStaff
	}
	if m.Name == "" {
		return "", "", invalid("a person needs a name")
	}
	if m.Email != "" {
		if !strings.Contains(m.Email, "@") {
			return "", "", invalid("%q is not an email address", m.Email)
		}
		if line, dup := im.emails[m.Email]; dup {
			return "", "", invalid("%s is also on line %d", m.Email, line)
		}
		var n int
		if err := im.t.queryRow(ctx, "SELECT count(*) FROM members WHERE org_id = $1 AND email = $2 AND erased_us = 0", im.t.org(), m.Email).Scan(&n); err != nil {
			return "", "", err
		}
		if n > 0 {
			return "", "", keycab.Errorf(keycab.ECONFLICT, "%s is already a member", m.Email)
		}
	}
	for _, name := range strings.Split(get("sites"), ";") {
		if strings.TrimSpace(name) == "" {
			continue
		}
		id, err := im.site(name)
		if err != nil {
			return "", "", err
		}
		m.SiteIDs = append(m.SiteIDs, id)
	}
	if err := im.t.createMember(ctx, &m); err != nil {
		return "", "", err
	}
	what := fmt.Sprintf("%s (%s)", m.Name, strings.ReplaceAll(string(m.Role), "_", " "))
	if kind, code := get("badge_kind"), get("badge_code"); kind != "" || code != "" {
		if err := im.addBadge(ctx, m.ID, kind, code); err != nil {
			return "", "", err
		}
		what += ", badge " + strings.ToLower(kind)
	}
	if m.Email != "" {
		im.emails[m.Email] = im.line
	}
	return what, m.ID, nil
}

func (im *importer) keySet(ctx context.Context, get func(string) string) (string, string, error) {
	site, err := im.site(get("site"))
	if err != nil {
		return "", "", err
	}
	k := keycab.KeySet{Label: get("label"), SiteID: site}
	for _, f := range []struct {
		col string
		to  *bool
	}{{"sensitive", &k.Sensitive}, {"triple_release", &k.TripleRelease}, {"pin_required", &k.PINRequired}} {
		if *f.to, err = parseImportBool(f.col, get(f.col)); err != nil {
			return "", "", err
		}
	}
	if v := get("max_out"); v != "" {
		if k.MaxOut, err = time.ParseDuration(v); err != nil || k.MaxOut <= 0 {
			return "", "", invalid("max_out %q: give a duration such as 8h or 90m", v)
		}
	}
	if err := im.t.createKeySet(ctx, &k); err != nil {
		return "", "", err
	}
	return k.Label, k.ID, nil
}

func (im *importer) badge(ctx context.Context, get func(string) string) (string, string, error) {
	who := strings.ToLower(get("member"))
	if who == "" {
		return "", "", invalid("a badge needs its member: their email or member id")
	}
	ids, err := im.t.strings(ctx, "SELECT id FROM members WHERE org_id = $1 AND erased_us = 0 AND (id = $2 OR email = $2)", im.t.org(), who)
	if err != nil {
		return "", "", err
	}
	switch len(ids) {
	case 0:
		return "", "", keycab.Errorf(keycab.ENOTFOUND, "no member %q", get("member"))
	case 1:
	default:
		return "", "", invalid("%d members have the address %q: give the member id", len(ids), who)
	}
	if err := im.addBadge(ctx, ids[0], get("kind"), get("code")); err != nil {
		return "", "", err
	}
	return fmt.Sprintf("%s badge for %s", strings.ToLower(get("kind")), get("member")), ids[0], nil
}

// addBadge enrols one badge of the file, refusing an unknown reader kind
// and a code already enrolled (in the organisation or earlier in the
// file) with a clear message.
func (im *importer) addBadge(ctx context.Context, memberID, kind, code string) error {
	k := keycab.BadgeKind(strings.ToLower(kind))
	if !slices.Contains(keycab.BadgeKinds(), k) {
		return invalid("badge kind %q: use one of rfid, wiegand, barcode, qr, keyboard", kind)
	}
	if code == "" {
		return invalid("a badge needs a code")
	}
	salt, err := im.t.badgeSalt(ctx)
	if err != nil {
		return err
	}
	var n int
	if err := im.t.queryRow(ctx, "SELECT count(*) FROM badges WHERE org_id = $1 AND hash = $2", im.t.org(), keycab.BadgeHash(salt, code)).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return keycab.Errorf(keycab.ECONFLICT, "this badge code is already enrolled")
	}
	_, err = im.t.addBadge(ctx, memberID, k, code)
	return err
}

func parseImportBool(col, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "no", "n", "false", "0":
		return false, nil
	case "yes", "y", "true", "1":
		return true, nil
	}
	return false, invalid("%s %q: give yes or no", col, v)
}
