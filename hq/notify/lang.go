package notify

import (
	"context"
	"encoding/json"
	"strings"
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
// A notice goes to several recipients with one stored body (the notice
// outbox), so the body of a notice that needs more than one language is
// a localized envelope, written when the notice is decided and opened
// when its mail is sent:
//
//	keycab-localized-mail v1\n{"texts":{"de":{"subject":..,"body":..},"en-GB":{..}},"to":{"a@b.test":"de"},"default":"en-GB"}
//
// Each recipient gets the texts of their locale ("to"), an address not
// listed the default's. A body without the first line is sent as it is
// (mail queued before this format, and sign-in mail).
const envelopeHead = "keycab-localized-mail v1\n"

type envelope struct {
	Texts   map[string]localText `json:"texts"`
	To      map[string]string    `json:"to"`
	Default string               `json:"default"`
}

type localText struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// open returns the subject and body of a queued mail for its recipient.
func open(to, subject, body string) (string, string) {
	rest, ok := strings.CutPrefix(body, envelopeHead)
	if !ok {
		return subject, body
	}
	var e envelope
	if err := json.Unmarshal([]byte(rest), &e); err != nil {
		return subject, body
	}
	t, ok := e.Texts[e.To[store.NormalizeEmail(to)]]
	if !ok {
		t = e.Texts[e.Default]
	}
	return t.Subject, t.Body
}

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
// of its recipients in their language, as a plain subject and body when
// they all read one, else as an envelope.
func (s *speakers) localize(ctx context.Context, n *store.Notice, site string, text func(l *i18n.Localizer) (subject, body string)) error {
	siteLang, err := s.site(ctx, site, n.To)
	if err != nil {
		return err
	}
	e := envelope{Texts: map[string]localText{}, To: map[string]string{}, Default: i18n.For(siteLang).Tag()}
	for _, to := range n.To {
		var own string
		m, err := s.member(ctx, to)
		if err != nil {
			return err
		}
		if m != nil {
			own = m.Language
		}
		tag := i18n.For(own, siteLang).Tag()
		e.To[store.NormalizeEmail(to)] = tag
	}
	for _, tag := range append(mapValues(e.To), e.Default) {
		if _, ok := e.Texts[tag]; !ok {
			sub, body := text(i18n.For(tag))
			e.Texts[tag] = localText{sub, body}
		}
	}
	def := e.Texts[e.Default]
	n.Subject, n.Body = def.Subject, def.Body
	if len(e.Texts) == 1 {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	n.Body = envelopeHead + string(b)
	return nil
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// stampIn says t in UTC in l's date and time format: "2 Mar 2026 09:00
// UTC", "2. März 2026 09:00 UTC".
func stampIn(l *i18n.Localizer, t time.Time) string { return l.DateTime(t.UTC()) + " UTC" }
