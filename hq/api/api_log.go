package api

import (
	"compress/gzip"
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
)

// A kiosk's log as HQ holds it is served as C2SP tlog-tiles under
// /v1/kiosks/{id}/log/: "checkpoint" is the kiosk's signed checkpoint at
// the size HQ verified, with every cosignature HQ holds; "tile/L/N[.p/W]" are hash
// tiles and "tile/entries/N[.p/W]" entry bundles, made from the leaves and
// stored tree hashes in HQ's database. `keycab audit verify --tiles URL`
// checks it all. A request with a token reads it as its member may; one
// without reads it when the organisation publishes its logs
// (store.PublicKioskLog), and is refused as any unauthenticated request
// otherwise.

func (s *API) kioskLog(w http.ResponseWriter, r *http.Request) error {
	kl, err := s.Store.KioskLogs().GetKioskLog(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
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

// kioskStill serves a log entry's camera still (store.EventStill),
// never cached.
func (s *API) kioskStill(w http.ResponseWriter, r *http.Request) error {
	index, err := strconv.ParseInt(r.PathValue("index"), 10, 64)
	if err != nil || index < 0 {
		return keycab.Errorf(keycab.EINVALID, "index: %q is not an entry's index", r.PathValue("index"))
	}
	jpeg, err := s.Store.EventStill(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"), index)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "private, no-store")
	_, err = w.Write(jpeg)
	return err
}

func (s *API) kioskWitnesses(w http.ResponseWriter, r *http.Request) error {
	ctx, sc, id := r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")
	st, err := s.Store.KioskLogs().KioskWitnessStatus(ctx, sc, id)
	if err != nil {
		return err
	}
	cs, err := s.Store.KioskLogs().WitnessCosignatures(ctx, sc, id)
	if err != nil {
		return err
	}
	out := KioskWitnesses{Witnesses: []WitnessStatus{}, Cosignatures: []WitnessCosignature{}}
	for _, v := range st {
		out.Witnesses = append(out.Witnesses, WitnessStatus{Witness: v.Witness, Size: v.Size, Status: v.Status, At: v.At})
	}
	for _, c := range cs {
		out.Cosignatures = append(out.Cosignatures, WitnessCosignature{Witness: c.Witness, Size: c.Size, Checkpoint: string(c.Checkpoint), At: c.At})
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) kioskLogEvidence(w http.ResponseWriter, r *http.Request) error {
	evs, err := s.Store.KioskLogs().ListEvidence(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := LogEvidenceList{Evidence: []LogEvidence{}}
	for _, e := range evs {
		out.Evidence = append(out.Evidence, LogEvidence{ID: e.ID, At: e.At, What: e.What,
			Theirs: base64.StdEncoding.EncodeToString(e.Theirs), Ours: base64.StdEncoding.EncodeToString(e.Ours)})
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) kioskRefusals(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.Store.KioskLogs().ListKioskRefusals(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
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

// publicKey marks a request without a token to a log route: it reads
// the log as anyone may, when the kiosk's organisation publishes it.
type publicKey struct{}

// publicOrAuthenticated serves a log route to a request with a token as
// authenticated does, and to one without any (no Authorization header,
// no session cookie) as a public reader's.
func (s *API) publicOrAuthenticated(next http.Handler, rt route) http.Handler {
	authed := s.authenticated(next, rt)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie(hq.SessionCookie); err == nil || r.Header.Get("Authorization") != "" {
			authed.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), publicKey{}, true)))
	})
}

// logReader reads a kiosk's log for a request: as its principal, or as
// anyone (public).
type logReader struct {
	public bool
	log    func(ctx context.Context, id string) (store.KioskLog, error)
	hashes func(ctx context.Context, id string, indexes []int64) ([]tlog.Hash, error)
	leaves func(ctx context.Context, id string, start, end int64) ([][]byte, error)
}

func (s *API) logReaderOf(r *http.Request) logReader {
	if public, _ := r.Context().Value(publicKey{}).(bool); public {
		return logReader{public: true, log: s.Store.KioskLogs().PublicKioskLog, hashes: s.Store.KioskLogs().PublicKioskTreeHashes, leaves: s.Store.KioskLogs().PublicKioskLeaves}
	}
	sc := principalOf(r.Context()).Scope()
	return logReader{
		log: func(ctx context.Context, id string) (store.KioskLog, error) {
			return s.Store.KioskLogs().GetKioskLog(ctx, sc, id)
		},
		hashes: func(ctx context.Context, id string, indexes []int64) ([]tlog.Hash, error) {
			return s.Store.KioskLogs().KioskTreeHashes(ctx, sc, id, indexes)
		},
		leaves: func(ctx context.Context, id string, start, end int64) ([][]byte, error) {
			return s.Store.KioskLogs().KioskLeaves(ctx, sc, id, start, end)
		},
	}
}

// kioskLogOf reads the kiosk's log state for r. A log that is not public,
// asked for without a token, is refused exactly as every authenticated
// route refuses a request without one.
func (s *API) kioskLogOf(r *http.Request, lr logReader) (store.KioskLog, error) {
	kl, err := lr.log(r.Context(), r.PathValue("id"))
	if lr.public && keycab.ErrorCode(err) == keycab.EUNAUTHORIZED {
		_, err = s.Auth.Authenticate(r.Context(), "")
		s.Logger.Warn("denied request", "reason", keycab.ErrorMessage(err), "method", r.Method, "path", r.URL.Path, "ip", hq.ClientIP(r))
	}
	return kl, err
}

// Caching. What a published log serves is the same to everyone: a full
// tile never changes, so caches keep it for a year; the checkpoint and
// partial tiles change as the log grows, so briefly. With a token the
// answer is the principal's own (private), and only full tiles are kept.
const (
	cacheImmutable = "max-age=31536000, immutable"
	cacheShort     = "max-age=10"
)

func setLogCaching(w http.ResponseWriter, public, immutable bool) {
	switch {
	case public && immutable:
		w.Header().Set("Cache-Control", "public, "+cacheImmutable)
	case public:
		w.Header().Set("Cache-Control", "public, "+cacheShort)
	case immutable:
		w.Header().Set("Cache-Control", "private, "+cacheImmutable)
	default:
		w.Header().Set("Cache-Control", "no-store")
	}
}

func (s *API) setOrgPublicLogs(w http.ResponseWriter, r *http.Request) error {
	var in OrgPublicLogsRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	p := principalOf(r.Context())
	if err := s.Store.KioskLogs().SetPublicLogs(r.Context(), p.Scope(), in.PublicLogs); err != nil {
		return err
	}
	s.Logger.Info("org public logs set", "account", p.AccountID, "org", p.OrgID, "public_logs", in.PublicLogs)
	return s.writeOrg(w, r)
}

func (s *API) kioskLogCheckpoint(w http.ResponseWriter, r *http.Request) error {
	lr := s.logReaderOf(r)
	kl, err := s.kioskLogOf(r, lr)
	if err != nil {
		return err
	}
	cp := kl.Cosigned
	if len(cp) == 0 {
		return keycab.Errorf(keycab.ENOTFOUND, "kiosk %s has pushed no checkpoint yet", kl.KioskID)
	}
	setLogCaching(w, lr.public, false)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(cp)
	return nil
}

func (s *API) kioskLogTile(w http.ResponseWriter, r *http.Request) error {
	ctx, id, lr := r.Context(), r.PathValue("id"), s.logReaderOf(r)
	kl, err := s.kioskLogOf(r, lr)
	if err != nil {
		return err
	}
	t, err := audit.ParseTilePath("tile/" + r.PathValue("path"))
	if err != nil || !audit.TileInTree(t, kl.Size) {
		return keycab.Errorf(keycab.ENOTFOUND, "no tile %s in kiosk %s's log of %d entries", r.PathValue("path"), id, kl.Size)
	}
	hashes := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) { return lr.hashes(ctx, id, indexes) })
	entries := audit.EntryReaderFunc(func(start, end int64) ([][]byte, error) { return lr.leaves(ctx, id, start, end) })
	return writeTile(w, r, t, hashes, entries, lr.public)
}

// writeTile answers tile t of a log (a kiosk's or HQ's own), cached as
// setLogCaching says and an entry bundle gzip-encoded when accepted.
func writeTile(w http.ResponseWriter, r *http.Request, t tlog.Tile, hashes tlog.HashReader, entries audit.EntryReader, public bool) error {
	data, err := audit.ReadTile(t, hashes, entries)
	if err != nil {
		return err
	}
	setLogCaching(w, public, t.W == 1<<uint(t.H))
	w.Header().Set("Content-Type", "application/octet-stream")
	if t.L == -1 {
		// Entry bundles compress well; tlog-tiles clients accept gzip.
		w.Header().Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			zw.Write(data)
			return zw.Close()
		}
	}
	w.Write(data)
	return nil
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip
// (RFC 9110: "gzip" or "x-gzip", or "*", with a q-value above 0).
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "x-gzip" && coding != "*" {
				continue
			}
			if q, ok := strings.CutPrefix(strings.ReplaceAll(strings.ToLower(params), " ", ""), "q="); ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}
