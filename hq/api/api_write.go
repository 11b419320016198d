package api

import (
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/passhash"
)

// The JSON API's writes. Every rule (roles, site scopes, caps, the last
// owner, tenancy) is the store's; handlers decode, validate the shape of
// the body and answer. PATCH bodies change only the fields they carry.

func created(w http.ResponseWriter, v any) {
	hq.WriteJSON(w, http.StatusCreated, v)
}

func noContent(w http.ResponseWriter) {
	w.WriteHeader(http.StatusNoContent)
}

// set copies *from into to when the field was sent.
func set[T any](to *T, from *T) {
	if from != nil {
		*to = *from
	}
}

func checkTimeZone(tz string) error {
	if _, err := time.LoadLocation(tz); tz != "" && err != nil {
		return keycab.Errorf(keycab.EINVALID, "time_zone: %q is not an IANA time zone", tz)
	}
	return nil
}

func (s *API) createSite(w http.ResponseWriter, r *http.Request) error {
	var in SiteRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	var n store.Site
	set(&n.Name, in.Name)
	set(&n.Address, in.Address)
	set(&n.TimeZone, in.TimeZone)
	set(&n.Notes, in.Notes)
	set(&n.Language, in.Language)
	if err := checkTimeZone(n.TimeZone); err != nil {
		return err
	}
	st, err := s.Store.CreateSite(r.Context(), principalOf(r.Context()).Scope(), n)
	if err != nil {
		return err
	}
	created(w, siteOf(st))
	return nil
}

func (s *API) updateSite(w http.ResponseWriter, r *http.Request) error {
	var in SiteRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	ctx, sc := r.Context(), principalOf(r.Context()).Scope()
	st, err := s.Store.GetSite(ctx, sc, r.PathValue("id"))
	if err != nil {
		return err
	}
	if in.Name != nil || in.Address != nil || in.TimeZone != nil || in.Language != nil {
		site := st.Site
		set(&site.Name, in.Name)
		set(&site.Address, in.Address)
		set(&site.TimeZone, in.TimeZone)
		set(&site.Language, in.Language)
		if err := checkTimeZone(site.TimeZone); err != nil {
			return err
		}
		if err := s.Store.UpdateSite(ctx, sc, site); err != nil {
			return err
		}
	}
	if in.Notes != nil {
		if err := s.Store.SetSiteNotes(ctx, sc, st.ID, *in.Notes); err != nil {
			return err
		}
	}
	if st, err = s.Store.GetSite(ctx, sc, st.ID); err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, siteOf(st))
	return nil
}

func (s *API) deleteSite(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.DeleteSite(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (in CabinetRequest) apply(c *keycab.Cabinet) {
	set(&c.SiteID, in.SiteID)
	set(&c.Name, in.Name)
	set(&c.Kind, in.Kind)
	set(&c.DoorLock, in.DoorLock)
	set(&c.DoorSensor, in.DoorSensor)
}

func (s *API) createCabinet(w http.ResponseWriter, r *http.Request) error {
	var in CabinetRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	var c keycab.Cabinet
	in.apply(&c)
	c, err := s.Store.CreateCabinet(r.Context(), principalOf(r.Context()).Scope(), c)
	if err != nil {
		return err
	}
	created(w, cabinetOf(c))
	return nil
}

func (s *API) updateCabinet(w http.ResponseWriter, r *http.Request) error {
	var in CabinetRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	ctx, sc := r.Context(), principalOf(r.Context()).Scope()
	c, err := s.Store.GetCabinet(ctx, sc, r.PathValue("id"))
	if err != nil {
		return err
	}
	in.apply(&c)
	if err := s.Store.UpdateCabinet(ctx, sc, c); err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, cabinetOf(c))
	return nil
}

func (s *API) deleteCabinet(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.DeleteCabinet(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func slotNumber(r *http.Request) (int, error) {
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || n < 1 || n > 1000 {
		return 0, keycab.Errorf(keycab.EINVALID, "slot number: want 1 to 1000")
	}
	return n, nil
}

func (s *API) setSlot(w http.ResponseWriter, r *http.Request) error {
	var in SlotRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	n, err := slotNumber(r)
	if err != nil {
		return err
	}
	sl := keycab.Slot{CabinetID: r.PathValue("id"), Number: n, Lock: in.Lock, Sensor: in.Sensor, KeySetID: in.KeySetID}
	if err := s.Store.SetSlot(r.Context(), principalOf(r.Context()).Scope(), sl); err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, Slot{CabinetID: sl.CabinetID, Number: n, Lock: in.Lock, Sensor: in.Sensor, KeySetID: in.KeySetID})
	return nil
}

func (s *API) deleteSlot(w http.ResponseWriter, r *http.Request) error {
	n, err := slotNumber(r)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteSlot(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"), n); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (in KeySetRequest) apply(k *keycab.KeySet) error {
	set(&k.SiteID, in.SiteID)
	set(&k.Label, in.Label)
	set(&k.Sensitive, in.Sensitive)
	set(&k.TripleRelease, in.TripleRelease)
	set(&k.PINRequired, in.PINRequired)
	if in.MaxOutSeconds != nil {
		if *in.MaxOutSeconds < 0 || *in.MaxOutSeconds > 366*24*3600 {
			return keycab.Errorf(keycab.EINVALID, "max_out_seconds: want 0 to a year")
		}
		k.MaxOut = time.Duration(*in.MaxOutSeconds) * time.Second
	}
	return nil
}

func (s *API) createKeySet(w http.ResponseWriter, r *http.Request) error {
	var in KeySetRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	var k keycab.KeySet
	if err := in.apply(&k); err != nil {
		return err
	}
	k, err := s.Store.CreateKeySet(r.Context(), principalOf(r.Context()).Scope(), k)
	if err != nil {
		return err
	}
	created(w, keySetOf(k))
	return nil
}

func (s *API) updateKeySet(w http.ResponseWriter, r *http.Request) error {
	var in KeySetRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	ctx, sc := r.Context(), principalOf(r.Context()).Scope()
	k, err := s.Store.GetKeySet(ctx, sc, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := in.apply(&k); err != nil {
		return err
	}
	if err := s.Store.UpdateKeySet(ctx, sc, k); err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, keySetOf(k))
	return nil
}

func (s *API) deleteKeySet(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.DeleteKeySet(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.Store.ListTokens(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := TokenList{Tokens: []Token{}}
	for _, t := range ts {
		out.Tokens = append(out.Tokens, tokenOf(t))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

// issued answers a new token: its text is shown this once, never stored.
func issued(w http.ResponseWriter, text string, t store.Token, err error) error {
	if err != nil {
		return err
	}
	created(w, IssuedToken{Token: tokenOf(t), Text: text})
	return nil
}

func (s *API) issueToken(w http.ResponseWriter, r *http.Request) error {
	text, t, err := s.Store.IssueToken(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	return issued(w, text, t, err)
}

func (s *API) rotateToken(w http.ResponseWriter, r *http.Request) error {
	text, t, err := s.Store.RotateToken(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	return issued(w, text, t, err)
}

func (s *API) revokeTokens(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.RevokeTokens(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *API) createMember(w http.ResponseWriter, r *http.Request) error {
	var in MemberRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	m, err := s.Store.CreateMember(r.Context(), principalOf(r.Context()).Scope(),
		keycab.Member{Name: in.Name, Email: in.Email, Role: in.Role, SiteIDs: in.SiteIDs, Language: in.Language})
	if err != nil {
		return err
	}
	created(w, memberOf(m))
	return nil
}

// updateMember changes a member's site scope and role: both or neither.
func (s *API) updateMember(w http.ResponseWriter, r *http.Request) error {
	var in MemberChangeRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	ctx, sc, id := r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")
	if in.Role != nil || in.SiteIDs != nil || in.Language == nil {
		if err := s.Store.UpdateMember(ctx, sc, id, in.Role, in.SiteIDs); err != nil {
			return err
		}
	}
	if in.Language != nil {
		if err := s.Store.SetMemberLanguage(ctx, sc, id, *in.Language); err != nil {
			return err
		}
	}
	m, err := s.Store.GetMember(ctx, sc, id)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, memberOf(m))
	return nil
}

func (s *API) removeMember(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.RemoveMember(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *API) setPIN(w http.ResponseWriter, r *http.Request) error {
	var in PINRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	if err := keycab.CheckPIN(in.PIN); err != nil {
		return err
	}
	h, err := passhash.Hash(in.PIN, s.Auth.Config().Params)
	if err != nil {
		return err
	}
	if err := s.Store.SetPINHash(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"), h); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *API) clearPIN(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.SetPINHash(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"), ""); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *API) listBadges(w http.ResponseWriter, r *http.Request) error {
	bs, err := s.Store.ListBadges(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := BadgeList{Badges: []Badge{}}
	for _, b := range bs {
		out.Badges = append(out.Badges, badgeOf(b))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) addBadge(w http.ResponseWriter, r *http.Request) error {
	var in BadgeRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	if !slices.Contains(keycab.BadgeKinds(), in.Kind) {
		return keycab.Errorf(keycab.EINVALID, "kind: want one of %v", keycab.BadgeKinds())
	}
	if len(in.Code) > maxBadgeCode {
		return keycab.Errorf(keycab.EINVALID, "code: at most %d characters", maxBadgeCode)
	}
	b, err := s.Store.AddBadge(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"), in.Kind, in.Code)
	if err != nil {
		return err
	}
	created(w, badgeOf(b))
	return nil
}

func (s *API) revokeBadge(w http.ResponseWriter, r *http.Request) error {
	hash, err := hex.DecodeString(r.PathValue("badge"))
	if err != nil || len(hash) == 0 {
		return keycab.Errorf(keycab.ENOTFOUND, "badge not found")
	}
	if err := s.Store.RevokeBadge(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"), hash); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *API) listJobs(w http.ResponseWriter, r *http.Request) error {
	js, err := s.Store.ListJobs(r.Context(), principalOf(r.Context()).Scope(), r.URL.Query().Get("member_id"))
	if err != nil {
		return err
	}
	out := JobList{Jobs: []Job{}}
	for _, j := range js {
		out.Jobs = append(out.Jobs, jobOf(j))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) createJob(w http.ResponseWriter, r *http.Request) error {
	var in JobRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	j, err := s.Store.CreateJob(r.Context(), principalOf(r.Context()).Scope(), keycab.Job{MemberID: in.MemberID, KeySetIDs: in.KeySetIDs,
		From: *in.From, Until: *in.Until, Descriptor: in.Descriptor})
	if err != nil {
		return err
	}
	created(w, jobOf(j))
	return nil
}

func (s *API) deleteJob(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.DeleteJob(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *API) listReservations(w http.ResponseWriter, r *http.Request) error {
	ks := r.URL.Query().Get("key_set_id")
	if ks == "" {
		return keycab.Errorf(keycab.EINVALID, "key_set_id is required")
	}
	vs, err := s.Store.ListReservations(r.Context(), principalOf(r.Context()).Scope(), ks)
	if err != nil {
		return err
	}
	out := ReservationList{Reservations: []Reservation{}}
	for _, v := range vs {
		out.Reservations = append(out.Reservations, reservationOf(v))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) createReservation(w http.ResponseWriter, r *http.Request) error {
	var in ReservationRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	v, err := s.Store.CreateReservation(r.Context(), principalOf(r.Context()).Scope(), keycab.Reservation{KeySetID: in.KeySetID,
		MemberID: in.MemberID, From: *in.From, Until: *in.Until})
	if err != nil {
		return err
	}
	created(w, reservationOf(v))
	return nil
}

func (s *API) deleteReservation(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.DeleteReservation(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}
