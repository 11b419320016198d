package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"keycab.dev/keycab"
)

// PolicyLevel names one level of an organisation's kiosk policy. A kiosk
// runs DefaultPolicy with its organisation's level applied, then its
// site's, then its cabinet's.
type PolicyLevel string

const (
	PolicyOrg     PolicyLevel = "org"
	PolicySite    PolicyLevel = "site"
	PolicyCabinet PolicyLevel = "cabinet"
)

// PolicySettings is one level of the policy as the store returns it:
// what the level sets, and the policy and branding in effect there
// (at a cabinet: what its kiosks run).
type PolicySettings struct {
	Level     PolicyLevel
	ScopeID   string // the site or cabinet; "" for the organisation
	Settings  keycab.PolicyOverride
	Policy    keycab.Policy
	Branding  keycab.Branding
	UpdatedAt time.Time // zero when the level sets nothing
	UpdatedBy string
}

// GetPolicy returns one level of the policy: the organisation's (id
// empty), a site's or a cabinet's. Every member may read the levels of
// what they see; kiosks read theirs through KioskConfig.
func (s *Store) GetPolicy(ctx context.Context, sc Scope, level PolicyLevel, id string) (PolicySettings, error) {
	var out PolicySettings
	err := s.read(ctx, "get policy", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("reading the policy"); err != nil {
			return err
		}
		if _, err := t.policyTarget(ctx, level, id); err != nil {
			return err
		}
		var err error
		out, err = t.policyAt(ctx, level, id)
		return err
	})
	return out, err
}

// SetPolicy replaces what one level of the policy sets; a zero override
// removes the level, so it inherits everything. Owners and admins set
// every level; a site manager sets the levels of the sites they manage
// and of those sites' cabinets. The result must be valid at this level
// and at every level below it that it reaches (the cabinets of a site,
// the sites and cabinets of the organisation), or nothing changes. The
// change is in HQ's admin log with the level's settings before and after.
func (s *Store) SetPolicy(ctx context.Context, sc Scope, level PolicyLevel, id string, o keycab.PolicyOverride) (PolicySettings, error) {
	var out PolicySettings
	err := s.write(ctx, "set policy", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("changing the policy"); err != nil {
			return err
		}
		site, err := t.policyTarget(ctx, level, id)
		if err != nil {
			return err
		}
		if level == PolicyOrg {
			if err := t.p.requireAdmin("changing the organisation's policy"); err != nil {
				return err
			}
		} else if !t.p.managesSite(site) {
			return forbidden("changing the policy of %s %s needs an owner, an admin or a manager of its site", level, id)
		}
		before, err := t.policyAt(ctx, level, id)
		if err != nil {
			return err
		}
		parent, parentBrand, err := t.policyAbove(ctx, level, id)
		if err != nil {
			return err
		}
		if err := o.Validate(parent, parentBrand); err != nil {
			return err
		}
		if err := t.storePolicyLevel(ctx, level, id, o); err != nil {
			return err
		}
		if err := t.checkPolicyBelow(ctx, level, id); err != nil {
			return err
		}
		if out, err = t.policyAt(ctx, level, id); err != nil {
			return err
		}
		return t.logChange(ctx, "policy.set", policyTargetName(level, id), loggedPolicy(before.Settings), loggedPolicy(out.Settings))
	})
	return out, err
}

// loggedPolicy is a level's settings as the admin log keeps them: the
// logo as its SHA-256.
func loggedPolicy(o keycab.PolicyOverride) keycab.PolicyOverride {
	if o.Logo != nil {
		sum := sha256.Sum256(*o.Logo)
		logo := sum[:]
		o.Logo = &logo
	}
	return o
}

func policyTargetName(level PolicyLevel, id string) string {
	if level == PolicyOrg {
		return "org"
	}
	return string(level) + ":" + id
}

// policyTarget checks that the level's target exists and is visible, and
// returns its site ("" for the organisation).
func (t *tx) policyTarget(ctx context.Context, level PolicyLevel, id string) (site string, err error) {
	switch level {
	case PolicyOrg:
		if id != "" {
			return "", invalid("the organisation's policy has no id")
		}
		return "", nil
	case PolicySite:
		return id, t.siteVisible(ctx, id)
	case PolicyCabinet:
		c, err := t.cabinet(ctx, id)
		return c.SiteID, err
	}
	return "", invalid("unknown policy level %q (org, site or cabinet)", level)
}

// policyLevel reads what one level sets (zero when nothing).
func (t *tx) policyLevel(ctx context.Context, level PolicyLevel, id string) (o keycab.PolicyOverride, at time.Time, by string, err error) {
	var settings string
	var atUS int64
	err = t.queryRow(ctx, "SELECT settings, updated_us, updated_by FROM policies WHERE org_id = $1 AND scope = $2 AND scope_id = $3",
		t.org(), string(level), id).Scan(&settings, &atUS, &by)
	if errors.Is(err, sql.ErrNoRows) {
		return o, at, "", nil
	} else if err != nil {
		return o, at, "", err
	}
	if err := json.Unmarshal([]byte(settings), &o); err != nil {
		return o, at, "", fmt.Errorf("policy %s %s: %w", level, id, err)
	}
	return o, fromUS(atUS), by, nil
}

func (t *tx) storePolicyLevel(ctx context.Context, level PolicyLevel, id string, o keycab.PolicyOverride) error {
	if o.IsZero() {
		_, err := t.exec(ctx, "DELETE FROM policies WHERE org_id = $1 AND scope = $2 AND scope_id = $3", t.org(), string(level), id)
		return err
	}
	settings, err := json.Marshal(o)
	if err != nil {
		return err
	}
	actor := t.p.member
	_, err = t.exec(ctx, `INSERT INTO policies (org_id, scope, scope_id, settings, updated_us, updated_by) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (org_id, scope, scope_id) DO UPDATE SET settings = excluded.settings, updated_us = excluded.updated_us, updated_by = excluded.updated_by`,
		t.org(), string(level), id, string(settings), us(t.now), actor)
	return err
}

// chain returns the levels that apply at a level's target, from the
// organisation down to the target itself.
func (t *tx) policyChain(ctx context.Context, level PolicyLevel, id string) ([][2]string, error) {
	chain := [][2]string{{string(PolicyOrg), ""}}
	switch level {
	case PolicySite:
		chain = append(chain, [2]string{string(PolicySite), id})
	case PolicyCabinet:
		var site string
		if err := t.queryRow(ctx, "SELECT site_id FROM cabinets WHERE org_id = $1 AND id = $2", t.org(), id).Scan(&site); err != nil {
			return nil, err
		}
		chain = append(chain, [2]string{string(PolicySite), site}, [2]string{string(PolicyCabinet), id})
	}
	return chain, nil
}

// effectivePolicy applies the levels of chain to the default policy.
func (t *tx) effectivePolicy(ctx context.Context, chain [][2]string) (keycab.Policy, keycab.Branding, error) {
	p, b := keycab.DefaultPolicy(), keycab.Branding{}
	for _, l := range chain {
		o, _, _, err := t.policyLevel(ctx, PolicyLevel(l[0]), l[1])
		if err != nil {
			return p, b, err
		}
		p, b = o.Apply(p, b)
	}
	return p, b, nil
}

// policyAt returns a level with the policy in effect there.
func (t *tx) policyAt(ctx context.Context, level PolicyLevel, id string) (PolicySettings, error) {
	out := PolicySettings{Level: level, ScopeID: id}
	var err error
	if out.Settings, out.UpdatedAt, out.UpdatedBy, err = t.policyLevel(ctx, level, id); err != nil {
		return out, err
	}
	chain, err := t.policyChain(ctx, level, id)
	if err != nil {
		return out, err
	}
	out.Policy, out.Branding, err = t.effectivePolicy(ctx, chain)
	return out, err
}

// policyAbove returns the policy a level overrides.
func (t *tx) policyAbove(ctx context.Context, level PolicyLevel, id string) (keycab.Policy, keycab.Branding, error) {
	chain, err := t.policyChain(ctx, level, id)
	if err != nil {
		return keycab.Policy{}, keycab.Branding{}, err
	}
	return t.effectivePolicy(ctx, chain[:len(chain)-1])
}

// checkPolicyBelow validates the effective policy at every site and
// cabinet a changed level reaches, so that a change above cannot make a
// level below it invalid (a door-held time shorter than a cabinet's
// warning, say).
func (t *tx) checkPolicyBelow(ctx context.Context, level PolicyLevel, id string) error {
	if level == PolicyCabinet {
		return nil
	}
	rows, err := t.query(ctx, `SELECT scope, scope_id FROM policies WHERE org_id = $1 AND scope <> 'org'
		AND ($2 = '' OR (scope = 'site' AND scope_id = $2)
			OR (scope = 'cabinet' AND scope_id IN (SELECT id FROM cabinets WHERE org_id = $1 AND site_id = $2)))
		ORDER BY scope DESC, scope_id`, t.org(), id)
	if err != nil {
		return err
	}
	var below [][2]string
	for rows.Next() {
		var l [2]string
		if err := rows.Scan(&l[0], &l[1]); err != nil {
			rows.Close()
			return err
		}
		below = append(below, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, l := range below {
		chain, err := t.policyChain(ctx, PolicyLevel(l[0]), l[1])
		if err != nil {
			return err
		}
		p, b, err := t.effectivePolicy(ctx, chain)
		if err == nil {
			err = errors.Join(p.Validate(), b.Validate())
		}
		if keycab.ErrorCode(err) == keycab.EINTERNAL {
			return err
		} else if err != nil {
			return keycab.Errorf(keycab.EINVALID, "this change would make the policy of %s %s invalid: %s", l[0], l[1], err)
		}
	}
	return nil
}

// logChange appends an admin-log entry whose detail is the JSON of what
// changed: {"before": ..., "after": ...}.
func (t *tx) logChange(ctx context.Context, action, target string, before, after any) error {
	detail, err := json.Marshal(struct {
		Before any `json:"before"`
		After  any `json:"after"`
	}{before, after})
	if err != nil {
		return err
	}
	return t.logAction(ctx, action, target, string(detail))
}
