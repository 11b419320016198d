package hq_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	tdlog "github.com/transparency-dev/formats/log"
	tdnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq/kioskapi"
	"keycab.dev/keycab/hq/store"
	kstore "keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
)

// rawGet sends a GET with an optional bearer token and header pairs,
// with no transparent decompression, and returns status, header and the
// body as sent.
func rawGet(tb testing.TB, url, token string, hdr ...string) (int, http.Header, []byte) {
	tb.Helper()
	req, err := http.NewRequest("GET", url, nil)
	MustNoErr(tb, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	MustNoErr(tb, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	MustNoErr(tb, err)
	return res.StatusCode, res.Header, b
}

// tileClient is a second verifier, independent of keycab's own (audit,
// and golang.org/x/mod/sumdb/tlog under it): it reads a C2SP tlog-tiles
// log over HTTP with its own tile paths and entry bundle parsing, opens
// the checkpoint with transparency-dev/formats and proves inclusion and
// consistency with transparency-dev/merkle.
type tileClient struct {
	tb    testing.TB
	base  string
	tiles map[string][]byte
}

func (c *tileClient) fetch(path string) []byte {
	c.tb.Helper()
	if b, ok := c.tiles[path]; ok {
		return b
	}
	code, h, b := rawGet(c.tb, c.base+"/"+path, "", "Accept-Encoding", "gzip")
	if code != 200 {
		c.tb.Fatalf("independent client: %s: %d %s", path, code, b)
	}
	if h.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		MustNoErr(c.tb, err)
		b, err = io.ReadAll(zr)
		MustNoErr(c.tb, err)
	}
	if path != "checkpoint" {
		c.tiles[path] = b
	}
	return b
}

// tilePath is C2SP tlog-tiles' path of tile N at level L (-1: the entry
// bundle) with width w of 256.
func tilePath(level int, n, w uint64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/", n%1000) + s
	}
	l := fmt.Sprint(level)
	if level < 0 {
		l = "entries"
	}
	p := "tile/" + l + "/" + s
	if w < 256 {
		p += fmt.Sprintf(".p/%d", w)
	}
	return p
}

// checkpoint opens the log's checkpoint with the kiosk's key and HQ's
// cosigner key (cosignature/v1) and requires both signatures.
func (c *tileClient) checkpoint(origin, kioskKey, cosignerKey string) *tdlog.Checkpoint {
	c.tb.Helper()
	kv, err := note.NewVerifier(kioskKey)
	MustNoErr(c.tb, err)
	cv, err := tdnote.NewVerifierForCosignatureV1(cosignerKey)
	MustNoErr(c.tb, err)
	cp, _, n, err := tdlog.ParseCheckpoint(c.fetch("checkpoint"), origin, kv, cv)
	if err != nil {
		c.tb.Fatalf("independent client: checkpoint: %v", err)
	}
	if !slices.ContainsFunc(n.Sigs, func(s note.Signature) bool { return s.Hash == cv.KeyHash() }) {
		c.tb.Fatalf("independent client: no verified cosignature by %s in %q", cosignerKey, c.fetch("checkpoint"))
	}
	return cp
}

// nodeHash is the hash of the complete subtree node (level, index) of a
// tree of the given size, from the hash tiles.
func (c *tileClient) nodeHash(level uint, index, size uint64) []byte {
	k, r := level/8, level%8
	first := index << r // the node's first descendant at level 8k
	n := first / 256
	w := min(256, size>>(8*k)-n*256)
	tile := c.fetch(tilePath(int(k), n, w))
	if uint64(len(tile)) != w*32 {
		c.tb.Fatalf("independent client: tile %s has %d bytes", tilePath(int(k), n, w), len(tile))
	}
	var hs [][]byte
	for i := first % 256; i < first%256+1<<r; i++ {
		hs = append(hs, tile[i*32:(i+1)*32])
	}
	for len(hs) > 1 {
		var up [][]byte
		for i := 0; i < len(hs); i += 2 {
			up = append(up, rfc6962.DefaultHasher.HashChildren(hs[i], hs[i+1]))
		}
		hs = up
	}
	return hs[0]
}

func (c *tileClient) proofOf(nodes proof.Nodes, size uint64) [][]byte {
	hs := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		hs[i] = c.nodeHash(id.Level, id.Index, size)
	}
	p, err := nodes.Rehash(hs, rfc6962.DefaultHasher.HashChildren)
	MustNoErr(c.tb, err)
	return p
}

// entry returns leaf i of a tree of the given size, from its bundle.
func (c *tileClient) entry(i, size uint64) []byte {
	n := i / 256
	b := c.fetch(tilePath(-1, n, min(256, size-n*256)))
	for j := uint64(0); ; j++ {
		if len(b) < 2 {
			c.tb.Fatalf("independent client: entry %d not in its bundle", i)
		}
		l := int(binary.BigEndian.Uint16(b))
		if j == i%256 {
			return b[2 : 2+l]
		}
		b = b[2+l:]
	}
}

// verifyInclusion proves every entry of the checkpoint's tree included.
func (c *tileClient) verifyInclusion(cp *tdlog.Checkpoint) {
	c.tb.Helper()
	for i := range cp.Size {
		nodes, err := proof.Inclusion(i, cp.Size)
		MustNoErr(c.tb, err)
		leaf := rfc6962.DefaultHasher.HashLeaf(c.entry(i, cp.Size))
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, cp.Size, leaf, c.proofOf(nodes, cp.Size), cp.Hash); err != nil {
			c.tb.Fatalf("independent client: entry %d of %d: %v", i, cp.Size, err)
		}
	}
}

func (c *tileClient) verifyConsistency(old, cur *tdlog.Checkpoint) {
	c.tb.Helper()
	nodes, err := proof.Consistency(old.Size, cur.Size)
	MustNoErr(c.tb, err)
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, cur.Size, c.proofOf(nodes, cur.Size), old.Hash, cur.Hash); err != nil {
		c.tb.Fatalf("independent client: %d -> %d not consistent: %v", old.Size, cur.Size, err)
	}
}

// TestPublicKioskLog: an organisation's kiosk logs are served without a
// token only once an owner or admin publishes them (before, a request
// without a token is refused as every authenticated route refuses it),
// never another organisation's; full tiles are immutable, the checkpoint
// and partial tiles short-lived, entry bundles gzip-encoded when asked;
// and a second, independent verifier reads the public log over HTTP and
// proves every entry's inclusion and the log's growth consistent.
func TestPublicKioskLog(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var kcfg kioskapi.Config
			e := newEnv(t, eng, withKioskAPI(t, &kcfg))
			w, other := e.MustWorld(t, "Acme"), e.MustWorld(t, "Other")
			admin := e.MustJoin(t, w.owner, "admin@acme.test", "admin")
			auditor := e.MustJoin(t, w.owner, "auditor@acme.test", "auditor")

			push := func(k *kioskDB, n int) {
				for i := range n {
					ev := audit.Event{Kind: keycab.EventDoorClosed}
					if i%2 == 0 {
						ev = audit.Event{Kind: keycab.EventIdentified, Actor: w.staff.memberID}
					}
					_, err := k.db.Append(ctx, kstore.Record{Event: &ev})
					MustNoErr(t, err)
				}
				a, err := agent.New(ctx, agent.Config{DB: k.db, Key: k.key, BatchSize: 500})
				MustNoErr(t, err)
				for range 5 { // 500 entries a push
					_, err := a.Push(ctx)
					MustNoErr(t, err)
				}
			}
			k := e.MustEnrolKiosk(t, store.MemberScope(w.owner.orgID, w.owner.memberID), w.cab.ID, "kiosk")
			push(k, 300)
			ko := e.MustEnrolKiosk(t, store.MemberScope(other.owner.orgID, other.owner.memberID), other.cab.ID, "theirs")
			push(ko, 10)
			vkey, err := k.db.VerifierKey()
			MustNoErr(t, err)
			base := e.srv.URL + "/v1/kiosks/" + k.peer.KioskID + "/log"
			paths := []string{"/checkpoint", "/tile/0/000", "/tile/0/001.p/44", "/tile/entries/000", "/tile/1/000.p/1"}

			// Not published: every log path refused without a token, as a
			// missing kiosk's and as any authenticated route (the log's
			// state) refuses it; with a token as before.
			refused := func(base string) {
				t.Helper()
				_, _, want := rawGet(t, e.srv.URL+"/v1/kiosks/"+k.peer.KioskID+"/log", "")
				for _, p := range paths {
					for _, b := range []string{base, e.srv.URL + "/v1/kiosks/kiosk_missing/log"} {
						code, h, body := rawGet(t, b+p, "")
						if code != 401 || !bytes.Equal(body, want) || h.Get("Cache-Control") != "no-store" {
							t.Fatalf("%s without a token: %d %q %s (want 401 %s)", b+p, code, h.Get("Cache-Control"), body, want)
						}
					}
				}
			}
			refused(base)
			if code, _, _ := rawGet(t, base+"/checkpoint", auditor.access); code != 200 {
				t.Fatalf("auditor: %d", code)
			}
			if code, out := verifyTool(t, nil, "--tiles", base, "--key", vkey); code == 0 || !strings.Contains(out, "401") {
				t.Fatalf("verify without a token before publishing: exit %d: %s", code, out)
			}

			// Publishing is for owners and admins.
			MustStatus(t, e.do(t, "PUT", "/v1/org/public-logs", w.staff.access, map[string]any{"public_logs": true}), 403)
			MustStatus(t, e.do(t, "PUT", "/v1/org/public-logs", auditor.access, map[string]any{"public_logs": true}), 403)
			MustStatus(t, e.do(t, "PUT", "/v1/org/public-logs", "", map[string]any{"public_logs": true}), 401)
			MustStatus(t, e.do(t, "PUT", "/v1/org/public-logs", admin.access, map[string]any{"public_logs": "yes"}), 400)
			refused(base)
			if r := MustStatus(t, e.do(t, "PUT", "/v1/org/public-logs", admin.access, map[string]any{"public_logs": true}), 200); r.body["public_logs"] != true {
				t.Fatalf("answer %s", r.raw)
			}
			if r := MustStatus(t, e.do(t, "GET", "/v1/org", w.staff.access, nil), 200); r.body["public_logs"] != true {
				t.Fatalf("org %s", r.raw)
			}
			if r := MustStatus(t, e.do(t, "GET", "/v1/org", other.owner.access, nil), 200); r.body["public_logs"] != false {
				t.Fatalf("other org %s", r.raw)
			}
			log := MustStatus(t, e.do(t, "GET", "/v1/admin-log?limit=200", w.owner.access, nil), 200)
			if !strings.Contains(log.raw, `org.public_logs`) || !strings.Contains(log.raw, `{\"before\":{\"public_logs\":false},\"after\":{\"public_logs\":true}}`) {
				t.Fatalf("admin log %s", log.raw)
			}

			// Published: anyone reads the log, with the caching each part allows.
			cacheOf := map[string]string{
				"/checkpoint":       "public, max-age=10",
				"/tile/0/000":       "public, max-age=31536000, immutable",
				"/tile/0/001.p/44":  "public, max-age=10",
				"/tile/entries/000": "public, max-age=31536000, immutable",
				"/tile/1/000.p/1":   "public, max-age=10",
			}
			for _, p := range paths {
				code, h, body := rawGet(t, base+p, "")
				if code != 200 || h.Get("Cache-Control") != cacheOf[p] {
					t.Fatalf("public %s: %d Cache-Control %q: %.200s", p, code, h.Get("Cache-Control"), body)
				}
			}
			// With a token it is the member's own answer, as before.
			for p, want := range map[string]string{"/checkpoint": "no-store", "/tile/0/000": "private, max-age=31536000, immutable", "/tile/0/001.p/44": "no-store"} {
				if code, h, _ := rawGet(t, base+p, auditor.access); code != 200 || h.Get("Cache-Control") != want {
					t.Fatalf("auditor %s: %d Cache-Control %q, want %q", p, code, h.Get("Cache-Control"), want)
				}
			}
			MustStatus(t, e.do(t, "GET", "/v1/kiosks/"+k.peer.KioskID+"/log/checkpoint", w.staff.access, nil), 403)
			MustStatus(t, e.do(t, "GET", "/v1/kiosks/"+k.peer.KioskID+"/log/checkpoint", other.owner.access, nil), 404)
			MustStatus(t, e.do(t, "GET", "/v1/kiosks/"+k.peer.KioskID+"/log/checkpoint", "kc_bogus", nil), 401)
			// The log's state and the rest of the organisation stay private.
			if code, _, _ := rawGet(t, base, ""); code != 401 {
				t.Fatalf("the log's state without a token: %d", code)
			}
			if code, _, _ := rawGet(t, base+"/tile/0/002", ""); code != 404 {
				t.Fatalf("a tile past the tree: %d", code)
			}
			// Another organisation's log is not published by Acme's choice.
			refused(e.srv.URL + "/v1/kiosks/" + ko.peer.KioskID + "/log")

			// Entry bundles gzip-encoded when the client accepts gzip, the
			// same bytes otherwise; hash tiles as they are.
			_, hPlain, plain := rawGet(t, base+"/tile/entries/000", "", "Accept-Encoding", "identity")
			_, hGz, gz := rawGet(t, base+"/tile/entries/000", "", "Accept-Encoding", "br;q=1.0, gzip;q=0.8")
			_, hNo, _ := rawGet(t, base+"/tile/entries/000", "", "Accept-Encoding", "gzip;q=0")
			if hPlain.Get("Content-Encoding") != "" || hNo.Get("Content-Encoding") != "" || hGz.Get("Content-Encoding") != "gzip" || !strings.Contains(hGz.Get("Vary"), "Accept-Encoding") {
				t.Fatalf("Content-Encoding plain %q, q=0 %q, gzip %q (Vary %q)", hPlain.Get("Content-Encoding"), hNo.Get("Content-Encoding"), hGz.Get("Content-Encoding"), hGz.Get("Vary"))
			}
			zr, err := gzip.NewReader(bytes.NewReader(gz))
			MustNoErr(t, err)
			unz, err := io.ReadAll(zr)
			MustNoErr(t, err)
			if !bytes.Equal(unz, plain) || len(gz) >= len(plain) {
				t.Fatalf("gzip bundle of %d bytes opens to %d bytes, the plain one is %d", len(gz), len(unz), len(plain))
			}
			if _, h, _ := rawGet(t, base+"/tile/0/000", "", "Accept-Encoding", "gzip"); h.Get("Content-Encoding") != "" {
				t.Fatalf("hash tile encoded %q", h.Get("Content-Encoding"))
			}

			// keycab's own verifier, with no token, and the independent one.
			cosigner := kcfg.Cosigner.VerifierKey()
			if code, out := verifyTool(t, nil, "--tiles", base, "--key", vkey, "--cosigner", cosigner); code != 0 || !strings.HasPrefix(out, fmt.Sprintf("ok: %d entries", k.db.Size())) {
				t.Fatalf("verify the public log: exit %d: %s", code, out)
			}
			c := &tileClient{tb: t, base: base, tiles: map[string][]byte{}}
			old := c.checkpoint(k.peer.Origin, vkey, cosigner)
			if old.Size != uint64(k.db.Size()) {
				t.Fatalf("public checkpoint of %d entries, the kiosk has %d", old.Size, k.db.Size())
			}
			c.verifyInclusion(old)
			push(k, 400) // the log grows past a full level-0 tile boundary and more
			cur := c.checkpoint(k.peer.Origin, vkey, cosigner)
			if cur.Size != uint64(k.db.Size()) || cur.Size <= old.Size+256 {
				t.Fatalf("public checkpoint of %d entries after growth, the kiosk has %d", cur.Size, k.db.Size())
			}
			c.tiles = map[string][]byte{}
			c.verifyConsistency(old, cur)
			c.verifyInclusion(cur)
			// A proof against another root fails: the client can fail.
			nodes, err := proof.Consistency(old.Size, cur.Size)
			MustNoErr(t, err)
			bad := bytes.Clone(old.Hash)
			bad[0] ^= 1
			if proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, cur.Size, c.proofOf(nodes, cur.Size), bad, cur.Hash) == nil {
				t.Fatal("a consistency proof verified against a wrong old root")
			}

			// Unpublished again: refused at once.
			MustStatus(t, e.do(t, "PUT", "/v1/org/public-logs", w.owner.access, map[string]any{"public_logs": false}), 200)
			refused(base)
		})
	}
}
