package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"keycab.dev/keycab"
)

// Groups (keycab.Group) and access rules (keycab.AccessRule): who may
// take which key sets, when. An organisation-wide group is managed by
// owners and admins; a group of one site also by that site's managers,
// who put in it only members and key sets they manage. A rule is made by
// whoever manages its key-set group.

// GroupDetail is a group with what it holds.
type GroupDetail struct {
	keycab.Group
	MemberIDs []string // a member group's members
	KeySetIDs []string // a key-set group's key sets
}

// CreateGroup adds a group.
func (s *Store) CreateGroup(ctx context.Context, sc Scope, g keycab.Group) (keycab.Group, error) {
	err := s.write(ctx, "create group", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("creating a group"); err != nil {
			return err
		}
		if err := t.sameOrg(g.OrgID); err != nil {
			return err
		}
		g.ID, g.OrgID, g.Name = newID("grp"), t.org(), strings.TrimSpace(g.Name)
		if err := g.Validate(); err != nil {
			return err
		}
		if g.SiteID != "" {
			if err := t.siteVisible(ctx, g.SiteID); err != nil {
				return err
			}
		}
		if err := t.manageGroup(g); err != nil {
			return err
		}
		if n, err := t.count(ctx, "SELECT count(*) FROM groups WHERE org_id = $1 AND kind = $2 AND name = $3", t.org(), string(g.Kind), g.Name); err != nil {
			return err
		} else if n > 0 {
			return keycab.Errorf(keycab.ECONFLICT, "a %s group named %q exists", strings.ReplaceAll(string(g.Kind), "_", "-"), g.Name)
		}
		if _, err := t.exec(ctx, "INSERT INTO groups (org_id, id, kind, name, site_id) VALUES ($1, $2, $3, $4, $5)",
			g.OrgID, g.ID, string(g.Kind), g.Name, nullable(g.SiteID)); err != nil {
			return err
		}
		return t.logChange(ctx, "group.create", g.ID, nil, g)
	})
	return g, err
}

// nullable stores "" as NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// manageGroup checks that the principal may change g.
func (t *tx) manageGroup(g keycab.Group) error {
	if g.SiteID == "" {
		return t.p.requireAdmin("changing an organisation-wide group")
	}
	if !t.p.managesSite(g.SiteID) {
		return forbidden("changing a group of site %s needs an owner, an admin or a manager of that site", g.SiteID)
	}
	return nil
}

// group reads a group the principal may see.
func (t *tx) group(ctx context.Context, id string) (keycab.Group, error) {
	g := keycab.Group{ID: id, OrgID: t.org()}
	var site sql.NullString
	err := t.queryRow(ctx, "SELECT kind, name, site_id FROM groups WHERE org_id = $1 AND id = $2", t.org(), id).Scan(&g.Kind, &g.Name, &site)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && site.Valid && !t.p.seesSite(site.String)) {
		return g, notFound("group", id)
	}
	g.SiteID = site.String
	return g, err
}

// GetGroup returns a group the principal may see, with what it holds.
func (s *Store) GetGroup(ctx context.Context, sc Scope, id string) (GroupDetail, error) {
	var out GroupDetail
	err := s.read(ctx, "get group", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("reading groups"); err != nil {
			return err
		}
		g, err := t.group(ctx, id)
		if err != nil {
			return err
		}
		out, err = t.groupDetail(ctx, g)
		return err
	})
	return out, err
}

func (t *tx) groupDetail(ctx context.Context, g keycab.Group) (GroupDetail, error) {
	d := GroupDetail{Group: g}
	q, dst := "SELECT member_id FROM member_group_members WHERE org_id = $1 AND group_id = $2 ORDER BY member_id", &d.MemberIDs
	if g.Kind == keycab.KeySetGroup {
		q, dst = "SELECT key_set_id FROM key_set_group_members WHERE org_id = $1 AND group_id = $2 ORDER BY key_set_id", &d.KeySetIDs
	}
	ids, err := t.strings(ctx, q, t.org(), g.ID)
	*dst = ids
	return d, err
}

// strings runs a query of one text column.
func (t *tx) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ListGroups returns the groups the principal may see, with what they
// hold.
func (s *Store) ListGroups(ctx context.Context, sc Scope) ([]GroupDetail, error) {
	var out []GroupDetail
	err := s.read(ctx, "list groups", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("reading groups"); err != nil {
			return err
		}
		ids, err := t.strings(ctx, "SELECT id FROM groups WHERE org_id = $1 ORDER BY kind, name, id", t.org())
		if err != nil {
			return err
		}
		for _, id := range ids {
			g, err := t.group(ctx, id)
			if keycab.ErrorCode(err) == keycab.ENOTFOUND {
				continue
			} else if err != nil {
				return err
			}
			d, err := t.groupDetail(ctx, g)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// DeleteGroup removes a group, what it holds and its rules.
func (s *Store) DeleteGroup(ctx context.Context, sc Scope, id string) error {
	return s.write(ctx, "delete group", sc, func(ctx context.Context, t *tx) error {
		before, err := t.managedGroup(ctx, id, "removing a group")
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, "DELETE FROM groups WHERE org_id = $1 AND id = $2", t.org(), id); err != nil {
			return err
		}
		return t.logChange(ctx, "group.delete", id, before, nil)
	})
}

// SetGroupEntries replaces what a group holds: member ids for a member
// group, key set ids for a key-set group. Each one added or removed must
// be one the principal manages, and in a site's group at that site.
func (s *Store) SetGroupEntries(ctx context.Context, sc Scope, id string, ids []string) error {
	return s.write(ctx, "set group entries", sc, func(ctx context.Context, t *tx) error {
		return t.setGroupEntries(ctx, id, ids)
	})
}

func (t *tx) setGroupEntries(ctx context.Context, id string, ids []string) error {
	before, err := t.managedGroup(ctx, id, "changing a group")
	if err != nil {
		return err
	}
	g := before.Group
	want := dedupe(ids)
	had := before.MemberIDs
	if g.Kind == keycab.KeySetGroup {
		had = before.KeySetIDs
	}
	for _, e := range want {
		if !slices.Contains(had, e) {
			if err := t.mayGroup(ctx, g, e, true); err != nil {
				return err
			}
		}
	}
	for _, e := range had {
		if !slices.Contains(want, e) {
			if err := t.mayGroup(ctx, g, e, false); err != nil {
				return err
			}
		}
	}
	table, col := "member_group_members", "member_id"
	if g.Kind == keycab.KeySetGroup {
		table, col = "key_set_group_members", "key_set_id"
	}
	if _, err := t.exec(ctx, "DELETE FROM "+table+" WHERE org_id = $1 AND group_id = $2", t.org(), id); err != nil {
		return err
	}
	for _, e := range want {
		if _, err := t.exec(ctx, "INSERT INTO "+table+" (org_id, group_id, "+col+") VALUES ($1, $2, $3)", t.org(), id, e); err != nil {
			return err
		}
	}
	after, err := t.groupDetail(ctx, g)
	if err != nil {
		return err
	}
	return t.logChange(ctx, "group.entries", id, before, after)
}

// managedGroup loads a group the principal may change, for what (a
// write), with what it holds.
func (t *tx) managedGroup(ctx context.Context, id, what string) (GroupDetail, error) {
	if err := t.p.mustWrite(what); err != nil {
		return GroupDetail{}, err
	}
	g, err := t.group(ctx, id)
	if err != nil {
		return GroupDetail{}, err
	}
	if err := t.manageGroup(g); err != nil {
		return GroupDetail{}, err
	}
	return t.groupDetail(ctx, g)
}

// mayGroup checks that the principal may add (or remove) entry e of g.
func (t *tx) mayGroup(ctx context.Context, g keycab.Group, e string, adding bool) error {
	if g.Kind == keycab.MemberGroup {
		m, err := t.managedMember(ctx, e, "changing a member's groups")
		if err != nil {
			return err
		}
		if adding && g.SiteID != "" && !m.AtSite(g.SiteID) {
			return invalid("member %s is not scoped to the group's site", e)
		}
		return nil
	}
	k, err := t.keySet(ctx, e)
	if err != nil {
		return err
	}
	if !t.p.managesSite(k.SiteID) {
		return forbidden("changing the groups of key set %s needs an owner, an admin or a manager of its site", e)
	}
	if adding && g.SiteID != "" && k.SiteID != g.SiteID {
		return invalid("key set %s is not at the group's site", e)
	}
	return nil
}

// CreateAccessRule lets a member group take a key-set group's key sets
// while the schedule allows. Whoever manages the key-set group makes it.
func (s *Store) CreateAccessRule(ctx context.Context, sc Scope, r keycab.AccessRule) (keycab.AccessRule, error) {
	err := s.write(ctx, "create access rule", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("creating an access rule"); err != nil {
			return err
		}
		if err := t.sameOrg(r.OrgID); err != nil {
			return err
		}
		mg, err := t.group(ctx, r.MemberGroupID)
		if err != nil {
			return err
		}
		kg, err := t.group(ctx, r.KeySetGroupID)
		if err != nil {
			return err
		}
		if mg.Kind != keycab.MemberGroup || kg.Kind != keycab.KeySetGroup {
			return invalid("a rule joins a member group to a key-set group")
		}
		if err := t.manageGroup(kg); err != nil {
			return err
		}
		if err := keycab.ValidateSchedule(r.Schedule); err != nil {
			return err
		}
		r.ID, r.OrgID = newID("rule"), t.org()
		sched, err := json.Marshal(append([]keycab.Window{}, r.Schedule...))
		if err != nil {
			return err
		}
		if n, err := t.count(ctx, "SELECT count(*) FROM access_rules WHERE org_id = $1 AND member_group_id = $2 AND key_set_group_id = $3",
			t.org(), r.MemberGroupID, r.KeySetGroupID); err != nil {
			return err
		} else if n > 0 {
			return keycab.Errorf(keycab.ECONFLICT, "a rule for these two groups exists; remove it to change its schedule")
		}
		if _, err := t.exec(ctx, "INSERT INTO access_rules (org_id, id, member_group_id, key_set_group_id, schedule) VALUES ($1, $2, $3, $4, $5)",
			r.OrgID, r.ID, r.MemberGroupID, r.KeySetGroupID, string(sched)); err != nil {
			return err
		}
		return t.logChange(ctx, "access_rule.create", r.ID, nil, r)
	})
	return r, err
}

// ListAccessRules returns the rules between groups the principal sees.
func (s *Store) ListAccessRules(ctx context.Context, sc Scope) ([]keycab.AccessRule, error) {
	var out []keycab.AccessRule
	err := s.read(ctx, "list access rules", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("reading access rules"); err != nil {
			return err
		}
		all, err := t.accessRules(ctx)
		if err != nil {
			return err
		}
		for _, r := range all {
			_, err1 := t.group(ctx, r.MemberGroupID)
			_, err2 := t.group(ctx, r.KeySetGroupID)
			if err1 == nil && err2 == nil {
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}

// accessRules reads every rule of the organisation.
func (t *tx) accessRules(ctx context.Context) ([]keycab.AccessRule, error) {
	rows, err := t.query(ctx, "SELECT id, member_group_id, key_set_group_id, schedule FROM access_rules WHERE org_id = $1 ORDER BY id", t.org())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []keycab.AccessRule
	for rows.Next() {
		r := keycab.AccessRule{OrgID: t.org()}
		var sched string
		if err := rows.Scan(&r.ID, &r.MemberGroupID, &r.KeySetGroupID, &sched); err != nil {
			return nil, err
		}
		if r.Schedule, err = parseSchedule(sched); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteAccessRule removes a rule, as CreateAccessRule's principal may.
func (s *Store) DeleteAccessRule(ctx context.Context, sc Scope, id string) error {
	return s.write(ctx, "delete access rule", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("removing an access rule"); err != nil {
			return err
		}
		all, err := t.accessRules(ctx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(all, func(r keycab.AccessRule) bool { return r.ID == id })
		if i < 0 {
			return notFound("access rule", id)
		}
		kg, err := t.group(ctx, all[i].KeySetGroupID)
		if err != nil {
			return notFound("access rule", id)
		}
		if err := t.manageGroup(kg); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "DELETE FROM access_rules WHERE org_id = $1 AND id = $2", t.org(), id); err != nil {
			return err
		}
		return t.logChange(ctx, "access_rule.delete", id, all[i], nil)
	})
}

// groupIndex maps each member (kind members) or key set (key_sets) to
// the ids of the groups that hold it.
func (t *tx) groupIndex(ctx context.Context, kind keycab.GroupKind) (map[string][]string, error) {
	q := "SELECT member_id, group_id FROM member_group_members WHERE org_id = $1 ORDER BY group_id"
	if kind == keycab.KeySetGroup {
		q = "SELECT key_set_id, group_id FROM key_set_group_members WHERE org_id = $1 ORDER BY group_id"
	}
	rows, err := t.query(ctx, q, t.org())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var e, g string
		if err := rows.Scan(&e, &g); err != nil {
			return nil, err
		}
		out[e] = append(out[e], g)
	}
	return out, rows.Err()
}

// DecideTake decides at HQ, with the kiosk's rules (keycab.DecideTake),
// whether a member may take a key set now: the member's groups, schedule
// and jobs, the key set's groups, the access rules, reservations, what
// is out, and the policy in effect at the key set's site. A member may
// ask for themselves; managers for members they see.
func (s *Store) DecideTake(ctx context.Context, sc Scope, memberID, keySetID string) (keycab.Decision, error) {
	var d keycab.Decision
	err := s.read(ctx, "decide take", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("deciding a take"); err != nil {
			return err
		}
		if memberID != t.p.member && !t.p.readsAll() && t.p.role != keycab.RoleSiteManager {
			return forbidden("a %s decides only their own takes", t.p.role)
		}
		m, err := t.member(ctx, memberID)
		if err != nil {
			return err
		}
		k, err := t.keySet(ctx, keySetID)
		if err != nil {
			return err
		}
		d, err = t.decideTake(ctx, m, k, false)
		return err
	})
	return d, err
}

// decideTake applies keycab.DecideTake to m taking k with HQ's facts; for
// a hand-over (handOver) the key set's own custody is left out, since it
// is out with the member handing it over.
func (t *tx) decideTake(ctx context.Context, m keycab.Member, k keycab.KeySet, handOver bool) (keycab.Decision, error) {
	f, err := t.takeFacts(ctx, m, k, handOver)
	if err != nil {
		return keycab.Decision{}, err
	}
	return keycab.DecideTake(f), nil
}

// takeFacts gathers HQ's facts for m taking k now (decideTake).
func (t *tx) takeFacts(ctx context.Context, m keycab.Member, k keycab.KeySet, handOver bool) (keycab.Facts, error) {
	f := keycab.Facts{Now: t.now, Member: m, KeySet: k, Schedule: m.Schedule}
	var err error
	if f.Location, err = t.siteLocation(ctx, k.SiteID); err != nil {
		return f, err
	}
	chain, err := t.policyChain(ctx, PolicySite, k.SiteID)
	if err != nil {
		return f, err
	}
	if f.Policy, _, err = t.effectivePolicy(ctx, chain); err != nil {
		return f, err
	}
	mg, err := t.groupIndex(ctx, keycab.MemberGroup)
	if err != nil {
		return f, err
	}
	kg, err := t.groupIndex(ctx, keycab.KeySetGroup)
	if err != nil {
		return f, err
	}
	f.Member.Groups, f.KeySet.Groups = mg[m.ID], kg[k.ID]
	if f.Rules, err = t.accessRules(ctx); err != nil {
		return f, err
	}
	if f.Jobs, err = t.jobs(ctx, m.ID, ""); err != nil {
		return f, err
	}
	if f.Reservations, err = t.reservations(ctx, k.ID, ""); err != nil {
		return f, err
	}
	out, err := t.custodyOut(ctx)
	if err != nil {
		return f, err
	}
	for _, c := range out {
		if !handOver || c.KeySetID != k.ID {
			f.Out = append(f.Out, c)
		}
	}
	return f, nil
}

// custodyOut reads every key set out in the organisation, oldest first.
func (t *tx) custodyOut(ctx context.Context) ([]keycab.Checkout, error) {
	rows, err := t.query(ctx, "SELECT key_set_id, member_id, log_index, taken_us, due_us FROM custody WHERE org_id = $1", t.org())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []keycab.Checkout
	for rows.Next() {
		var c keycab.Checkout
		var taken, due int64
		if err := rows.Scan(&c.KeySetID, &c.MemberID, &c.LogIndex, &taken, &due); err != nil {
			return nil, err
		}
		c.TakenAt, c.DueAt = fromUS(taken), fromUS(due)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TakenAt.Before(out[j].TakenAt) })
	return out, rows.Err()
}

// count runs a count(*) query.
func (t *tx) count(ctx context.Context, q string, args ...any) (int, error) {
	var n int
	err := t.queryRow(ctx, q, args...).Scan(&n)
	return n, err
}

// siteLocation returns a site's time zone (UTC when it names none).
func (t *tx) siteLocation(ctx context.Context, site string) (*time.Location, error) {
	var tz string
	if err := t.queryRow(ctx, "SELECT time_zone FROM sites WHERE org_id = $1 AND id = $2", t.org(), site).Scan(&tz); err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC, nil
	}
	return loc, nil
}
