package api

import (
	"net/http"

	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq"
)

// A kiosk's log as HQ holds it is served as C2SP tlog-tiles under
// /v1/kiosks/{id}/log/: "checkpoint" is the kiosk's signed checkpoint at
// the size HQ verified, with HQ's cosignature; "tile/L/N[.p/W]" are hash
// tiles and "tile/entries/N[.p/W]" entry bundles, made from the leaves and
// stored tree hashes in HQ's database. `keycab audit verify --tiles URL`
// checks it all.

func (s *API) kioskLog(w http.ResponseWriter, r *http.Request) error {
	kl, err := s.Store.GetKioskLog(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := KioskLog{KioskID: kl.KioskID, CabinetID: kl.CabinetID, Origin: kl.Origin,
		VerifierKey: kl.VerifierKey, Size: kl.Size, Quarantined: !kl.QuarantinedAt.IsZero()}
	if !kl.QuarantinedAt.IsZero() {
		out.QuarantinedAt, out.QuarantineReason = kl.QuarantinedAt, &kl.QuarantineReason
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) kioskRefusals(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.Store.ListKioskRefusals(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := KioskRefusalList{Refusals: []KioskRefusal{}}
	for _, v := range rs {
		out.Refusals = append(out.Refusals, KioskRefusal{Index: v.Index, Change: v.Change, Reason: v.Reason, At: v.At})
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) kioskLogCheckpoint(w http.ResponseWriter, r *http.Request) error {
	kl, err := s.Store.GetKioskLog(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	cp := kl.Cosigned
	if len(cp) == 0 {
		return keycab.Errorf(keycab.ENOTFOUND, "kiosk %s has pushed no checkpoint yet", kl.KioskID)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(cp)
	return nil
}

func (s *API) kioskLogTile(w http.ResponseWriter, r *http.Request) error {
	ctx, sc, id := r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")
	kl, err := s.Store.GetKioskLog(ctx, sc, id)
	if err != nil {
		return err
	}
	t, err := audit.ParseTilePath("tile/" + r.PathValue("path"))
	if err != nil || !audit.TileInTree(t, kl.Size) {
		return keycab.Errorf(keycab.ENOTFOUND, "no tile %s in kiosk %s's log of %d entries", r.PathValue("path"), id, kl.Size)
	}
	hashes := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		return s.Store.KioskTreeHashes(ctx, sc, id, indexes)
	})
	entries := audit.EntryReaderFunc(func(start, end int64) ([][]byte, error) {
		return s.Store.KioskLeaves(ctx, sc, id, start, end)
	})
	data, err := audit.ReadTile(t, hashes, entries)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(data)
	return nil
}
