package notify

import (
	"context"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/i18n"
)

// Languages: every mail is written in its recipient's language: the
// member's own (internal/i18n), else, for a notice about a site, the
// site's, else en-GB. A recipient is found as a member through the
// sign-in account of their address (an owner, admin or manager signs in
// to the dashboard); an address with no account there reads the site's
// language.
//
// A notice goes to several recipients; each recipient's mail is queued
// with its own subject and body (store.Notice.Letters), written when the
// notice is decided.

// speakers resolves the languages of one organisation's recipients and
// sites, each once a round.
type speakers struct {
	st      *store.Store
	org     string
	members map[string]*keycab.Member // by address; nil: not a member with an account
	sites   map[string]string
}

func newSpeakers(st *store.Store, org string) *speakers {
	return &speakers{st: st, org: org, members: map[string]*keycab.Member{}, sites: map[string]string{}}
}

// none reports whether err only says the principal or thing is not there.
func none(err error) bool {
	c := keycab.ErrorCode(err)
	return c == keycab.ENOTFOUND || c == keycab.EUNAUTHORIZED || c == keycab.EFORBIDDEN
}

// member returns the member of the organisation that signs in with email,
// or nil.
func (s *speakers) member(ctx context.Context, email string) (*keycab.Member, error) {
	email = store.NormalizeEmail(email)
	if m, ok := s.members[email]; ok {
		return m, nil
	}
	s.members[email] = nil
	acct, err := s.st.Accounts().AccountByEmail(ctx, email)
	if err != nil {
		if none(err) {
			return nil, nil
		}
		return nil, err
	}
	ms, err := s.st.Accounts().Memberships(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	for _, ms := range ms {
		if ms.OrgID != s.org {
			continue
		}
		m, err := s.st.GetMember(ctx, store.MemberScope(s.org, ms.MemberID), ms.MemberID)
		if err != nil {
			if none(err) {
				return nil, nil
			}
			return nil, err
		}
		s.members[email] = &m
		return &m, nil
	}
	return nil, nil
}

// site returns the language of site, read as any of to who may see it.
func (s *speakers) site(ctx context.Context, site string, to []string) (string, error) {
	if site == "" {
		return "", nil
	}
	if l, ok := s.sites[site]; ok {
		return l, nil
	}
	for _, email := range to {
		m, err := s.member(ctx, email)
		if err != nil {
			return "", err
		}
		if m == nil {
			continue
		}
		st, err := s.st.GetSite(ctx, store.MemberScope(s.org, m.ID), site)
		if err != nil {
			if none(err) {
				continue
			}
			return "", err
		}
		s.sites[site] = st.Language
		return st.Language, nil
	}
	s.sites[site] = ""
	return "", nil
}

// localize writes notice n (its text in each language: text) for each
// of its recipients in their language: the member's own, else the
// site's. Subject and Body are in the site's language, for an address
// not listed in Letters.
func (s *speakers) localize(ctx context.Context, n *store.Notice, site string, text func(l *i18n.Localizer) (subject, body string)) error {
	siteLang, err := s.site(ctx, site, n.To)
	if err != nil {
		return err
	}
	def := i18n.For(siteLang).Tag()
	texts := map[string]store.Letter{}
	letter := func(tag string) store.Letter {
		if l, ok := texts[tag]; ok {
			return l
		}
		sub, body := text(i18n.For(tag))
		texts[tag] = store.Letter{Subject: sub, Body: body}
		return texts[tag]
	}
	d := letter(def)
	n.Subject, n.Body, n.Letters = d.Subject, d.Body, nil
	for _, to := range n.To {
		m, err := s.member(ctx, to)
		if err != nil {
			return err
		}
		var own string
		if m != nil {
			own = m.Language
		}
		if tag := i18n.For(own, siteLang).Tag(); tag != def {
			if n.Letters == nil {
				n.Letters = map[string]store.Letter{}
			}
			n.Letters[store.NormalizeEmail(to)] = letter(tag)
		}
	}
	return nil
}

// stampIn says t in UTC in l's date and time format: "2 Mar 2026 09:00
// UTC", "2. März 2026 09:00 UTC".
func stampIn(l *i18n.Localizer, t time.Time) string { return l.DateTime(t.UTC()) + " UTC" }
