package dashboard

import (
	"context"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/notify"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/i18n"
)

// directory names the organisation's things the viewer may see, for
// showing names rather than ids.
type directory struct {
	Members  []keycab.Member
	KeySets  []keycab.KeySet
	Sites    []store.Site
	Cabinets []keycab.Cabinet

	member  map[string]string
	keySet  map[string]keycab.KeySet
	site    map[string]string
	cabinet map[string]keycab.Cabinet
}

func (d *Dashboard) directory(ctx context.Context, v *viewer) (*directory, error) {
	sc := v.P.Scope()
	dir := &directory{member: map[string]string{}, keySet: map[string]keycab.KeySet{}, site: map[string]string{}, cabinet: map[string]keycab.Cabinet{}}
	var err error
	// A role that may not list a kind just sees ids.
	allowed := func(err error) error {
		if c := keycab.ErrorCode(err); c == keycab.EFORBIDDEN || c == keycab.ENOTFOUND {
			return nil
		}
		return err
	}
	if dir.Members, err = d.Store.ListMembers(ctx, sc); allowed(err) != nil {
		return nil, err
	}
	if dir.KeySets, err = d.Store.ListKeySets(ctx, sc, ""); allowed(err) != nil {
		return nil, err
	}
	if dir.Sites, err = d.Store.ListSites(ctx, sc); allowed(err) != nil {
		return nil, err
	}
	if dir.Cabinets, err = d.Store.ListCabinets(ctx, sc, ""); allowed(err) != nil {
		return nil, err
	}
	for _, m := range dir.Members {
		dir.member[m.ID] = m.Name
	}
	for _, k := range dir.KeySets {
		dir.keySet[k.ID] = k
	}
	for _, s := range dir.Sites {
		dir.site[s.ID] = s.Name
	}
	for _, c := range dir.Cabinets {
		dir.cabinet[c.ID] = c
	}
	return dir, nil
}

func (dir *directory) MemberName(id string) string {
	if id == "" {
		return ""
	}
	if n, ok := dir.member[id]; ok && n != "" {
		return n
	}
	return id
}

func (dir *directory) KeySetLabel(id string) string {
	if k, ok := dir.keySet[id]; ok {
		return k.Label
	}
	return id
}

func (dir *directory) SiteName(id string) string {
	if n, ok := dir.site[id]; ok {
		return n
	}
	return id
}

func (dir *directory) CabinetName(id string) string {
	if c, ok := dir.cabinet[id]; ok {
		return c.Name
	}
	return id
}

func (dir *directory) CabinetSite(id string) string { return dir.cabinet[id].SiteID }

// holding is a row of the keys-out table.
type holding struct {
	store.Holding
	KeySet, Site, Member string
	Zone                 string // the site's time zone, for its times
	Overdue              bool
	OverdueBy            string
}

func (d *Dashboard) holdings(ctx context.Context, v *viewer, onlyOverdue bool) ([]holding, error) {
	hs, err := d.Store.ListCustody(ctx, v.P.Scope())
	if err != nil {
		return nil, err
	}
	dir, err := d.directory(ctx, v)
	if err != nil {
		return nil, err
	}
	now := d.now()
	var out []holding
	for _, h := range hs {
		row := holding{Holding: h, KeySet: dir.KeySetLabel(h.KeySetID), Site: dir.SiteName(h.SiteID), Member: dir.MemberName(h.MemberID), Zone: dir.SiteZone(h.SiteID),
			Overdue: h.Overdue(now)}
		if row.Overdue {
			row.OverdueBy = duration(v.L, now.Sub(h.DueAt))
		}
		if onlyOverdue && !row.Overdue {
			continue
		}
		out = append(out, row)
	}
	// Overdue first, then the longest out.
	slices.SortStableFunc(out, func(a, b holding) int {
		if a.Overdue != b.Overdue {
			if a.Overdue {
				return -1
			}
			return 1
		}
		return a.TakenAt.Compare(b.TakenAt)
	})
	return out, nil
}

func duration(l *i18n.Localizer, d time.Duration) string {
	switch {
	case d < time.Minute:
		return l.T("dash.dur.under_minute")
	case d < time.Hour:
		return l.T("dash.dur.min", "M", int(d/time.Minute))
	case d < 48*time.Hour:
		return l.T("dash.dur.h_min", "H", int(d/time.Hour), "M", int(d%time.Hour/time.Minute))
	}
	return l.N("dash.dur.days", int(d/(24*time.Hour)))
}

type keysData struct {
	Rows    []holding
	Overdue int
	Only    bool
	Members []keycab.Member // for a hand-over, to those who may ask one
}

// Zones names the rows' time zones once.
func (k keysData) Zones() string { return zoneList(k.Rows, func(h holding) string { return h.Zone }) }

type alarmsData struct {
	Rows     []alarmRow
	OpenOnly bool
}

// Zones names the rows' time zones once.
func (a alarmsData) Zones() string {
	return zoneList(a.Rows, func(r alarmRow) string { return r.Zone })
}

func (d *Dashboard) keysOut(w http.ResponseWriter, r *http.Request, v *viewer) error {
	rows, err := d.holdings(r.Context(), v, false)
	if err != nil {
		return err
	}
	n := 0
	for _, h := range rows {
		if h.Overdue {
			n++
		}
	}
	data := keysData{Rows: rows, Overdue: n}
	if v.CanManage() {
		dir, err := d.directory(r.Context(), v)
		if err != nil {
			return err
		}
		data.Members = dir.Members
	}
	d.render(w, r, http.StatusOK, "keys", view{Title: "Keys out now", Nav: "keys", V: v, Data: data})
	return nil
}

func (d *Dashboard) overdue(w http.ResponseWriter, r *http.Request, v *viewer) error {
	rows, err := d.holdings(r.Context(), v, true)
	if err != nil {
		return err
	}
	d.render(w, r, http.StatusOK, "keys", view{Title: "Overdue", Nav: "overdue", V: v, Data: keysData{Rows: rows, Overdue: len(rows), Only: true}})
	return nil
}

// alarmRow is a row of the alarms table.
type alarmRow struct {
	store.Alarm
	Cabinet, Site, ClearedBy string
	Zone                     string // the site's time zone, for its times
	CanClear                 bool
	// KeySet names the key set the alarm is about; For says how long it
	// has been open, or how long it was open before it was cleared.
	KeySet, For string
}

func (d *Dashboard) alarms(w http.ResponseWriter, r *http.Request, v *viewer) error {
	as, err := d.Store.ListAlarms(r.Context(), v.P.Scope(), r.URL.Query().Get("open") == "1")
	if err != nil {
		return err
	}
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return err
	}
	var rows []alarmRow
	for _, a := range as {
		site := dir.CabinetSite(a.CabinetID)
		// The store decides; this only hides a button that would fail.
		can := v.Admin() || v.Role == keycab.RoleSiteManager
		rows = append(rows, alarmRow{Alarm: a, Cabinet: dir.CabinetName(a.CabinetID), Site: dir.SiteName(site), Zone: dir.SiteZone(site),
			ClearedBy: dir.MemberName(a.ClearedBy), CanClear: can && a.ClearedAt.IsZero()})
		row := &rows[len(rows)-1]
		if a.KeySetID != "" {
			row.KeySet = dir.KeySetLabel(a.KeySetID)
		}
		if a.ClearedAt.IsZero() {
			row.For = v.T("dash.alarms.open_for", "For", duration(v.L, d.now().Sub(a.RaisedAt)))
		} else {
			row.For = v.T("dash.alarms.cleared_after", "For", duration(v.L, a.ClearedAt.Sub(a.RaisedAt)))
		}
	}
	d.render(w, r, http.StatusOK, "alarms", view{Title: "Alarms", Nav: "alarms", V: v, Data: alarmsData{rows, r.URL.Query().Get("open") == "1"}})
	return nil
}

func (d *Dashboard) clearAlarm(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.Store.ClearAlarm(r.Context(), v.P.Scope(), r.PathValue("id"), strings.TrimSpace(r.PostFormValue("note"))); err != nil {
		return err
	}
	http.Redirect(w, r, "/alarms?notice=cleared", http.StatusSeeOther)
	return nil
}

// kioskRow is a row of the kiosks table.
type kioskRow struct {
	store.KioskHealth
	Cabinet, Site string
	Status, Class string
	// DiskGB and Celsius are the newest heartbeat's disk free and
	// temperature in display units.
	DiskGB, Celsius float64
	// Clock says how far the kiosk's clock is off HQ's, when by more
	// than a minute: its events' own times are that far off.
	Clock string
	// ConfigBehind says since when the kiosk has not applied the config
	// HQ issued it, once that is longer than ConfigBehindAfter.
	ConfigBehind string
	// Healthy is the verdict: online, its config current, every entry
	// HQ holds cosigned back to it, no open alarm, its clock right;
	// Problems say in words what is not.
	Healthy  bool
	Problems []string
}

// verdict judges a kiosk's health from its row.
func (row *kioskRow) verdict(l *i18n.Localizer) {
	var p []string
	switch row.Status {
	case "Online":
	case "Revoked":
		row.Problems = nil
		return
	case "Never synced":
		p = append(p, l.T("dash.kiosks.never_synced"))
	case "Quarantined":
		p = append(p, l.T("dash.kiosks.forked"))
	default:
		p = append(p, l.T("dash.kiosks.offline_since", "Since", l.Day(row.LastSeen.UTC())+" "+l.Clock(row.LastSeen.UTC())+" UTC"))
	}
	if row.ConfigBehind != "" {
		p = append(p, row.ConfigBehind)
	}
	if row.Heartbeat.At.IsZero() && row.Status == "Online" {
		p = append(p, l.T("dash.kiosks.no_heartbeat"))
	}
	if n := row.LogSize - row.Heartbeat.CosignedSize; n > 0 && !row.Heartbeat.At.IsZero() {
		p = append(p, l.N("dash.kiosks.not_cosigned", int(n)))
	}
	if n := len(row.Heartbeat.Alarms); n > 0 {
		p = append(p, l.N("dash.kiosks.open_alarms", n))
	}
	if row.Clock != "" {
		p = append(p, row.Clock)
	}
	row.Problems, row.Healthy = p, len(p) == 0
}

// clockNote describes a kiosk's clock offset (HQ's clock minus the
// kiosk's), or "" within a minute.
func clockNote(l *i18n.Localizer, off time.Duration) string {
	switch {
	case off >= time.Minute:
		return l.T("dash.kiosks.clock_behind", "For", duration(l, off))
	case off <= -time.Minute:
		return l.T("dash.kiosks.clock_ahead", "For", duration(l, -off))
	}
	return ""
}

func (d *Dashboard) kiosks(w http.ResponseWriter, r *http.Request, v *viewer) error {
	rows, offline, behindAfter, err := d.kioskRows(r.Context(), v)
	if err != nil {
		return err
	}
	healthy := 0
	for _, row := range rows {
		if row.Healthy {
			healthy++
		}
	}
	d.render(w, r, http.StatusOK, "kiosks", view{Title: "Kiosks", Nav: "kiosks", V: v, Data: struct {
		Rows                            []kioskRow
		Healthy                         int
		OfflineAfter, ConfigBehindAfter string
	}{rows, healthy, duration(v.L, offline), duration(v.L, behindAfter)}})
	return nil
}

// kioskRows are the kiosks the viewer sees with their verdicts, and the
// offline and config-behind thresholds they were judged by.
func (d *Dashboard) kioskRows(ctx context.Context, v *viewer) ([]kioskRow, time.Duration, time.Duration, error) {
	offline := d.OfflineAfter
	if offline == 0 {
		offline = notify.DefaultConfig().OfflineAfter
	}
	behindAfter := d.ConfigBehindAfter
	if behindAfter == 0 {
		behindAfter = DefaultConfigBehindAfter
	}
	ks, err := d.Store.KioskLogs().ListKioskHealth(ctx, v.P.Scope(), offline)
	if err != nil {
		return nil, 0, 0, err
	}
	dir, err := d.directory(ctx, v)
	if err != nil {
		return nil, 0, 0, err
	}
	var rows []kioskRow
	for _, k := range ks {
		row := kioskRow{KioskHealth: k, Cabinet: dir.CabinetName(k.CabinetID), Site: dir.SiteName(dir.CabinetSite(k.CabinetID)),
			DiskGB: float64(k.Heartbeat.DiskFree) / 1e9, Celsius: float64(k.Heartbeat.TemperatureMC) / 1000,
			Clock: clockNote(v.L, k.Heartbeat.ClockOffset)}
		if since := k.ConfigBehindSince(); !since.IsZero() && d.now().Sub(since) > behindAfter {
			row.ConfigBehind = v.T("dash.kiosks.config_behind", "For", duration(v.L, d.now().Sub(since)))
		}
		switch {
		case !k.RevokedAt.IsZero():
			row.Status, row.Class = "Revoked", "muted"
		case k.Quarantined:
			row.Status, row.Class = "Quarantined", "bad"
		case k.Online:
			row.Status, row.Class = "Online", "good"
		case k.LastSeen.IsZero():
			row.Status, row.Class = "Never synced", "warn"
		default:
			row.Status, row.Class = "Offline", "warn"
		}
		row.verdict(v.L)
		rows = append(rows, row)
	}
	return rows, offline, behindAfter, nil
}

// peopleData is the people page.
type peopleData struct {
	Members []memberRow
	Invites []store.AuthToken
	Roles   []keycab.Role // the roles the viewer may invite
	Sites   []store.Site
	Email   string
	Role    keycab.Role
}

type memberRow struct {
	keycab.Member
	Sites string
}

// invitableRoles are the roles v may offer: never above their own, and a
// site manager only staff and contractors (auth.Invite checks the same).
func invitableRoles(r keycab.Role) []keycab.Role {
	switch r {
	case keycab.RoleOwner, keycab.RoleAdmin:
		var out []keycab.Role
		for _, x := range []keycab.Role{keycab.RoleOwner, keycab.RoleAdmin, keycab.RoleSiteManager, keycab.RoleAuditor, keycab.RoleStaff, keycab.RoleContractor} {
			if r.AtLeast(x) {
				out = append(out, x)
			}
		}
		return out
	case keycab.RoleSiteManager:
		return []keycab.Role{keycab.RoleStaff, keycab.RoleContractor}
	}
	return nil
}

func (d *Dashboard) peopleView(ctx context.Context, v *viewer) (view, error) {
	dir, err := d.directory(ctx, v)
	if err != nil {
		return view{}, err
	}
	data := peopleData{Roles: invitableRoles(v.Role), Sites: dir.Sites, Role: keycab.RoleStaff}
	for _, m := range dir.Members {
		row := memberRow{Member: m, Sites: v.T("dash.people.all_sites")}
		if len(m.SiteIDs) > 0 {
			var names []string
			for _, id := range m.SiteIDs {
				names = append(names, dir.SiteName(id))
			}
			row.Sites = strings.Join(names, ", ")
		}
		data.Members = append(data.Members, row)
	}
	if v.CanInvite() {
		if data.Invites, err = d.Store.Accounts().ListInvites(ctx, v.P.Scope()); err != nil && keycab.ErrorCode(err) != keycab.EFORBIDDEN {
			return view{}, err
		}
	}
	return view{Title: "People", Nav: "people", V: v, Data: data}, nil
}

func (d *Dashboard) people(w http.ResponseWriter, r *http.Request, v *viewer) error {
	vw, err := d.peopleView(r.Context(), v)
	if err != nil {
		return err
	}
	d.render(w, r, http.StatusOK, "people", vw)
	return nil
}

func (d *Dashboard) invitePeople(w http.ResponseWriter, r *http.Request, v *viewer) error {
	in := auth.Invitation{Email: strings.TrimSpace(r.PostFormValue("email")), Role: keycab.Role(r.PostFormValue("role"))}
	for _, s := range r.PostForm["site"] {
		if s != "" {
			in.SiteIDs = append(in.SiteIDs, s)
		}
	}
	if _, err := d.Auth.Invite(r.Context(), v.P, in); err != nil {
		vw, verr := d.peopleView(r.Context(), v)
		if verr != nil {
			return verr
		}
		data := vw.Data.(peopleData)
		data.Email, data.Role = in.Email, in.Role
		vw.Data = data
		d.formError(w, r, "people", vw, err)
		return nil
	}
	http.Redirect(w, r, "/people?notice=invited", http.StatusSeeOther)
	return nil
}

func (d *Dashboard) revokeInvite(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.Store.Accounts().RevokeInvite(r.Context(), v.P.Scope(), r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/people?notice=revoked", http.StatusSeeOther)
	return nil
}

func (d *Dashboard) keySets(w http.ResponseWriter, r *http.Request, v *viewer) error {
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return err
	}
	d.render(w, r, http.StatusOK, "keysets", view{Title: "Key sets", Nav: "keysets", V: v, Data: dir})
	return nil
}

func (d *Dashboard) sites(w http.ResponseWriter, r *http.Request, v *viewer) error {
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return err
	}
	d.render(w, r, http.StatusOK, "sites", view{Title: "Sites", Nav: "sites", V: v, Data: dir})
	return nil
}

func (d *Dashboard) site(w http.ResponseWriter, r *http.Request, v *viewer) error {
	st, err := d.Store.GetSite(r.Context(), v.P.Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return err
	}
	d.render(w, r, http.StatusOK, "site", view{Title: st.Name, Nav: "sites", V: v, Data: struct {
		Site store.Site
		Dir  *directory
	}{st, dir}})
	return nil
}

func (d *Dashboard) cabinets(w http.ResponseWriter, r *http.Request, v *viewer) error {
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return err
	}
	d.render(w, r, http.StatusOK, "cabinets", view{Title: "Cabinets", Nav: "cabinets", V: v, Data: dir})
	return nil
}

func (d *Dashboard) cabinet(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return d.cabinetPage(w, r, v, nil)
}

// cabinetAndSlots reads the cabinet the request's path names, and its
// slots, as the viewer may see them.
func (d *Dashboard) cabinetAndSlots(r *http.Request, v *viewer) (keycab.Cabinet, []keycab.Slot, error) {
	sc := v.P.Scope()
	c, err := d.Store.GetCabinet(r.Context(), sc, r.PathValue("id"))
	if err != nil {
		return c, nil, err
	}
	slots, err := d.Store.ListSlots(r.Context(), sc, c.ID)
	return c, slots, err
}

// cabinetPage renders a cabinet with its slots and, right after one was
// issued, an enrolment token's text (shown this once).
func (d *Dashboard) cabinetPage(w http.ResponseWriter, r *http.Request, v *viewer, enrol *enrolShown) error {
	c, slots, err := d.cabinetAndSlots(r, v)
	if err != nil {
		return err
	}
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return err
	}
	d.render(w, r, http.StatusOK, "cabinet", view{Title: c.Name, Nav: "cabinets", V: v, Data: struct {
		Cabinet keycab.Cabinet
		Slots   []keycab.Slot
		Dir     *directory
		Enrol   *enrolShown
	}{c, slots, dir, enrol}})
	return nil
}

// settingsData is the settings page; Secret, URI and QR are set while
// MFA enrolment is under way, RecoveryCodes when new ones are shown
// (once).
type settingsData struct {
	Secret        string
	URI           template.URL // otpauth:, which html/template would otherwise refuse
	QR            template.URL // a data: URL of the QR code's PNG, made here
	RecoveryCodes []string
	CodesLeft     int
	Sessions      []auth.SessionInfo
	RequireMFA    bool   // the organisation's rule (shown to owners and admins)
	PublicLogs    bool   // the organisation publishes its kiosk logs (shown to owners and admins)
	Notice        string // a key of notices, shown at the top
}

func (d *Dashboard) settings(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return d.settingsPage(w, r, v, http.StatusOK, settingsData{}, nil)
}

func (d *Dashboard) mfaSetup(w http.ResponseWriter, r *http.Request, v *viewer) error {
	key, uri, err := d.Auth.BeginTOTP(r.Context(), v.P)
	if err != nil {
		return err
	}
	data := settingsData{Secret: key, URI: template.URL(uri)}
	data.QR, _, _ = qrDataURL(uri, 4) // none if it cannot be drawn
	return d.settingsPage(w, r, v, http.StatusOK, data, nil)
}

// mfaEnable turns MFA on and shows the recovery codes, this once.
func (d *Dashboard) mfaEnable(w http.ResponseWriter, r *http.Request, v *viewer) error {
	codes, err := d.Auth.EnableTOTP(r.Context(), v.P, r.PostFormValue("code"))
	if err != nil {
		return d.settingsPage(w, r, v, 0, settingsData{}, err)
	}
	v.MFA, v.NeedsMFA = true, false
	return d.settingsPage(w, r, v, http.StatusOK, settingsData{RecoveryCodes: codes, Notice: "mfa"}, nil)
}

func (d *Dashboard) changePassword(w http.ResponseWriter, r *http.Request, v *viewer) error {
	t, err := d.Auth.ChangePassword(r.Context(), v.P, r.PostFormValue("current_password"), r.PostFormValue("new_password"))
	if err != nil {
		return d.settingsPage(w, r, v, 0, settingsData{}, err)
	}
	d.startSession(w, t)
	http.Redirect(w, r, "/settings?notice=password", http.StatusSeeOther)
	return nil
}
