package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

func auditCommand() *command {
	return &command{
		name:    "audit",
		summary: "Verify, show, prove and export a kiosk's signed audit log.",
		sub: []*command{
			auditVerifyCommand(),
			auditShowCommand(),
			auditProveCommand(),
			auditExportCommand(),
		},
	}
}

// openLog opens a kiosk database read-only for the audit commands.
func openLog(ctx context.Context, path string) (*store.DB, error) {
	if path == "" {
		return nil, errors.New("no database given (use --db FILE)")
	}
	return store.Open(ctx, path, store.Options{ReadOnly: true, BusyTimeout: 2 * time.Second})
}

// openHead opens a kiosk database read-only with its head checkpoint,
// verified against the log's key.
func openHead(ctx context.Context, path string) (*store.DB, []byte, audit.Checkpoint, error) {
	d, err := openLog(ctx, path)
	if err != nil {
		return nil, nil, audit.Checkpoint{}, err
	}
	fail := func(err error) (*store.DB, []byte, audit.Checkpoint, error) {
		d.Close()
		return nil, nil, audit.Checkpoint{}, err
	}
	v, err := d.Verifier()
	if err != nil {
		return fail(err)
	}
	signed, _, err := d.Head(ctx)
	if err != nil {
		return fail(err)
	}
	cp, _, err := audit.OpenCheckpoint(signed, v)
	if err != nil {
		return fail(fmt.Errorf("head checkpoint: %w", err))
	}
	return d, signed, cp, nil
}

// loadVerifier parses a verifier key given on the command line, or read
// from a file when it starts with @.
func loadVerifier(s string) (note.Verifier, error) {
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(rest)
		if err != nil {
			return nil, err
		}
		s = strings.TrimSpace(string(b))
	}
	v, err := note.NewVerifier(s)
	if err != nil {
		return nil, fmt.Errorf("verifier key %q: %w", s, err)
	}
	return v, nil
}

func auditVerifyCommand() *command {
	return &command{
		name:    "verify",
		summary: "Recompute the whole log and check every stored hash and checkpoint signature, and (--db) every kept personal text against its entry's reference and every kept camera still against its entry's hash. Exit 0 if it verifies (erased texts and those removed by retention are counted, not faults), 1 naming the first bad entry, or (--db) when the newest entries carry no signature yet and --allow-unsigned is not given.",
		usage:   "--db FILE [--key VERIFIER|@FILE] [--allow-unsigned]  |  --tiles DIR|URL --key VERIFIER|@FILE [--cosigner VERIFIER|@FILE] [--witness VERIFIER|@FILE ... [--witnesses-required N]] [--token T]",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			db := fs.String("db", "", "kiosk database `file`")
			tiles := fs.String("tiles", "", "a log as C2SP tlog-tiles: an export `directory`, or HQ's URL of a kiosk's log (https://HQ/v1/kiosks/ID/log)")
			key := fs.String("key", "", "verifier key to check signatures with (default: the key recorded in the log; give it to not trust the file; needed with --tiles)")
			cosigner := fs.String("cosigner", "", "with --tiles: HQ's cosigner verifier key; the checkpoint must carry its cosignature")
			var witnesses []string
			fs.Func("witness", "with --tiles: an external witness's cosignature/v1 verifier `key` (or @FILE); repeatable; see --witnesses-required", func(v string) error {
				witnesses = append(witnesses, v)
				return nil
			})
			required := fs.Int("witnesses-required", -1, "with --witness: how many of the named witnesses must have cosigned a checkpoint of the log (default: all of them)")
			token := fs.String("token", "", "with a --tiles URL: bearer token for HQ (default $KEYCAB_TOKEN; none for a log its organisation publishes)")
			allowUnsigned := fs.Bool("allow-unsigned", false, "with --db: pass a log whose newest entries no signed checkpoint covers yet (a copy of a running kiosk's database, or one a power cut left before the kiosk started again); they are checked for their chain and hashes only, which does not prove them")
			return func(ctx context.Context, e *env, args []string) error {
				if *required < 0 {
					*required = len(witnesses)
				}
				if len(args) > 0 || (*db != "" && *tiles != "") || (*tiles != "" && *key == "") ||
					(len(witnesses) > 0 && *tiles == "") || *required > len(witnesses) {
					fs.Usage()
					return errUsage
				}
				var v note.Verifier
				if *key != "" {
					var err error
					if v, err = loadVerifier(*key); err != nil {
						return err
					}
				}
				if *tiles != "" {
					if *token == "" {
						*token = os.Getenv("KEYCAB_TOKEN")
					}
					return verifyTiles(ctx, e, *tiles, *token, v, *cosigner, witnesses, *required)
				}
				d, err := openLog(ctx, *db)
				if err != nil {
					return err
				}
				defer d.Close()
				res, err := d.Verify(ctx, v)
				var p *audit.Problem
				if errors.As(err, &p) {
					return &exitError{code: 1, msg: fmt.Sprintf("verify %s: FAILED at %v", *db, p)}
				} else if err != nil {
					return err
				}
				if res.Unsigned > 0 && !*allowUnsigned {
					// Without the kiosk's key a verifier cannot tell entries
					// a crash left before their head from entries edited or
					// added behind a reused older checkpoint.
					return &exitError{code: 1, msg: fmt.Sprintf("verify %s: NOT PROVEN: the newest %d of %d entries carry no signature yet; they chain and match their hashes, which an editor can arrange. The kiosk checks them with its key and signs them when it next starts; verify again then, or give --allow-unsigned to accept them unproven", *db, res.Unsigned, res.Entries)}
				}
				fmt.Fprintf(e.stdout, "ok: %d entries, tree size %d, root %s, %d signed checkpoints verified, %d personal texts match their references, %d erased, %d removed by retention (%s)%s%s\n",
					res.Entries, res.Entries, res.Root, res.Checkpoints, res.Texts, res.Erased, res.Expired, res.Elapsed.Round(time.Millisecond), stillsSaid(res.Stills), unsignedSaid(res.Unsigned))
				return nil
			}
		},
	}
}

// unsignedSaid is verify's word on the newest entries no signed head
// covers yet, none when a head covers them all.
func unsignedSaid(n int64) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "; the newest entry is not signed yet (it chains and matches its hashes; --allow-unsigned: accepted unproven)"
	}
	return fmt.Sprintf("; the newest %d entries are not signed yet (they chain and match their hashes; --allow-unsigned: accepted unproven)", n)
}

// stillsSaid is verify's word on camera stills, none when the log keeps
// none.
func stillsSaid(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %d camera stills match their hashes", n)
}

// verifyTiles verifies a tlog-tiles log in a directory or at a URL: every
// hash recomputed, the chain of entries, the kiosk's signature and, when
// given, HQ's cosignature. Like --db it does not parse every event (what
// tamper evidence rests on is the hashes), at about three times the speed.
func verifyTiles(ctx context.Context, e *env, src, token string, v note.Verifier, cosigner string, witnesses []string, required int) error {
	start := time.Now()
	fetch := tileFetcher(ctx, src, token)
	more, err := exportCosigned(src)
	if err != nil {
		return fmt.Errorf("verify %s: %w", src, err)
	}
	res, err := audit.VerifyTiles(fetch, v, false, more...)
	var p *audit.Problem
	if errors.As(err, &p) {
		return &exitError{code: 1, msg: fmt.Sprintf("verify %s: FAILED at %v", src, p)}
	} else if err != nil {
		return fmt.Errorf("verify %s: %w", src, err)
	}
	cosigned := "no cosignature checked (give --cosigner)"
	if cosigner != "" {
		if rest, ok := strings.CutPrefix(cosigner, "@"); ok {
			b, err := os.ReadFile(rest)
			if err != nil {
				return err
			}
			cosigner = strings.TrimSpace(string(b))
		}
		// Every cosignature by the key must verify; the newest size it
		// covers is reported, and at least one must exist.
		var newest audit.Checkpoint
		var newestAt time.Time
		for _, msg := range append([][]byte{res.Signed}, more...) {
			text, _ := audit.NoteText(msg)
			c, _ := audit.ParseCheckpoint(text)
			at, err := wire.VerifyCosignature(msg, cosigner)
			var bad *note.InvalidSignatureError
			switch {
			case errors.As(err, &bad):
				return &exitError{code: 1, msg: fmt.Sprintf("verify %s: FAILED: checkpoint at size %d: a cosignature by %s does not verify", src, c.Size, bad.Name)}
			case err != nil:
				continue // not cosigned by that key
			}
			if newestAt.IsZero() || c.Size > newest.Size {
				newest, newestAt = c, at
			}
		}
		if newestAt.IsZero() {
			return &exitError{code: 1, msg: fmt.Sprintf("verify %s: FAILED: no checkpoint of the log is cosigned by HQ", src)}
		}
		cosigned = fmt.Sprintf("cosigned by HQ at %s up to size %d", newestAt.Format(time.RFC3339), newest.Size)
		if newest.Size < res.Checkpoint.Size {
			cosigned += fmt.Sprintf(" (the %d entries after it are not cosigned yet)", res.Checkpoint.Size-newest.Size)
		}
	}
	witnessed, err := checkWitnesses(src, append([][]byte{res.Signed}, more...), witnesses, required)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "ok: %d entries, tree size %d, root %s, checkpoint signed by %s, %s%s (%s)\n",
		res.Entries, res.Checkpoint.Size, res.Checkpoint.Root, v.Name(), cosigned, witnessed, time.Since(start).Round(time.Millisecond))
	return nil
}

// checkWitnesses checks the external witnesses' cosignatures (C2SP
// tlog-cosignature, cosignature/v1) the checkpoints carry, each already
// verified against the tree: a cosignature by a named witness's key that
// does not verify fails, and at least required of the named witnesses
// must have cosigned one of them. A witness is counted once: a key named
// twice, or two keys of one name, is a usage error. It reports each
// witness's newest cosigned size and the size the quorum covers (the
// required-th largest of those: every entry up to it is cosigned by at
// least required witnesses).
func checkWitnesses(src string, checkpoints [][]byte, witnesses []string, required int) (string, error) {
	if len(witnesses) == 0 {
		return "", nil
	}
	var parts []string
	var sizes []int64 // each cosigning witness's newest size
	names := map[string]bool{}
	for _, w := range witnesses {
		if rest, ok := strings.CutPrefix(w, "@"); ok {
			b, err := os.ReadFile(rest)
			if err != nil {
				return "", err
			}
			w = strings.TrimSpace(string(b))
		}
		wv, err := wire.NewCosignatureVerifier(w)
		if err != nil {
			return "", fmt.Errorf("--witness %q: %w", w, err)
		}
		if names[wv.Name()] {
			return "", fmt.Errorf("--witness %s is named twice: each witness counts once", wv.Name())
		}
		names[wv.Name()] = true
		newest := int64(-1)
		for _, msg := range checkpoints {
			text, _ := audit.NoteText(msg)
			c, _ := audit.ParseCheckpoint(text)
			_, err := wire.VerifyCosignature(msg, w)
			var bad *note.InvalidSignatureError
			switch {
			case errors.As(err, &bad):
				return "", &exitError{code: 1, msg: fmt.Sprintf("verify %s: FAILED: checkpoint at size %d: a cosignature by witness %s does not verify", src, c.Size, bad.Name)}
			case err != nil:
				continue
			}
			newest = max(newest, c.Size)
		}
		if newest < 0 {
			parts = append(parts, wv.Name()+" none")
			continue
		}
		sizes = append(sizes, newest)
		parts = append(parts, fmt.Sprintf("%s up to size %d", wv.Name(), newest))
	}
	if len(sizes) < required {
		return "", &exitError{code: 1, msg: fmt.Sprintf("verify %s: FAILED: %d of the %d named witnesses cosigned the log, %d required (%s)",
			src, len(sizes), len(witnesses), required, strings.Join(parts, ", "))}
	}
	quorum := ""
	if required > 0 {
		slices.Sort(sizes)
		quorum = fmt.Sprintf("; %d of them cosigned every entry up to size %d", required, sizes[len(sizes)-required])
	}
	return fmt.Sprintf(", %d of %d witnesses cosigned (%s)%s", len(sizes), len(witnesses), strings.Join(parts, ", "), quorum), nil
}

// exportCosigned reads the cosigned checkpoints of an export directory
// (audit.CosignedDir); HQ's URL of a log has none beyond its checkpoint.
func exportCosigned(src string) ([][]byte, error) {
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		return nil, nil
	}
	ents, err := os.ReadDir(filepath.Join(src, audit.CosignedDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, audit.CosignedDir, e.Name()))
		if err != nil {
			return nil, err
		}
		if len(b) > maxTileFile {
			return nil, fmt.Errorf("%s/%s is too large for a checkpoint", audit.CosignedDir, e.Name())
		}
		out = append(out, b)
	}
	return out, nil
}

// maxTileFile bounds what one fetched tile, bundle or checkpoint may be:
// a full entry bundle of 256 entries at most MaxLeafSize each.
const maxTileFile = 256 * (2 + audit.MaxLeafSize)

// tileFetcher reads tlog-tiles files from a directory, or over HTTP(S)
// with a bearer token.
func tileFetcher(ctx context.Context, src, token string) audit.TileFetcher {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return func(path string) ([]byte, error) {
			return os.ReadFile(filepath.Join(src, filepath.FromSlash(path)))
		}
	}
	base := strings.TrimSuffix(src, "/")
	client := &http.Client{Timeout: time.Minute}
	return func(path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", base+"/"+path, nil)
		if err != nil {
			return nil, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(io.LimitReader(res.Body, maxTileFile+1))
		if err != nil {
			return nil, err
		}
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %s: %s", path, res.Status, bytes.TrimSpace(b[:min(len(b), 200)]))
		}
		if len(b) > maxTileFile {
			return nil, fmt.Errorf("%s: more than %d bytes", path, maxTileFile)
		}
		return b, nil
	}
}

// shownEntry is the JSON form of an entry for audit show --json.
type shownEntry struct {
	Index     int64             `json:"index"`
	LeafHash  string            `json:"leaf_hash"`
	Kind      string            `json:"kind"`
	Time      time.Time         `json:"time"`
	Mono      int64             `json:"mono_ns"`
	Boot      string            `json:"boot"`
	Actor     string            `json:"actor,omitempty"`
	Second    string            `json:"second,omitempty"`
	KeySet    string            `json:"keyset,omitempty"`
	Slot      uint              `json:"slot,omitempty"`
	Due       *time.Time        `json:"due,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Recipient string            `json:"recipient_ref,omitempty"`
	Notes     string            `json:"notes_ref,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
	Error     string            `json:"error,omitempty"`
}

func auditShowCommand() *command {
	return &command{
		name:    "show",
		summary: "Print log entries, one per line, or as JSON Lines with --json.",
		usage:   "--db FILE [--from N] [--to M] [--json]",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			db := fs.String("db", "", "kiosk database `file`")
			from := fs.Int64("from", 0, "first entry index to show")
			to := fs.Int64("to", -1, "last entry index to show (inclusive; default the newest)")
			asJSON := fs.Bool("json", false, "print JSON Lines")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 || *from < 0 {
					fs.Usage()
					return errUsage
				}
				d, err := openLog(ctx, *db)
				if err != nil {
					return err
				}
				defer d.Close()
				end := int64(-1)
				if *to >= 0 {
					end = *to + 1
				}
				enc := json.NewEncoder(e.stdout)
				return d.Scan(ctx, *from, end, func(en store.Entry) error {
					s := shownEntry{Index: en.Index, LeafHash: tlog.RecordHash(en.Leaf).String()}
					ev, err := audit.Decode(en.Leaf)
					if err != nil {
						s.Error = err.Error()
					} else {
						s.Kind, s.Time, s.Mono, s.Boot = string(ev.Kind), ev.WallTime(), ev.Mono, hex.EncodeToString(ev.Boot)
						s.Actor, s.Second, s.KeySet, s.Slot, s.Reason, s.Detail = ev.Actor, ev.Second, ev.KeySet, ev.Slot, ev.Reason, ev.Detail
						if ev.Due != 0 {
							t := time.UnixMilli(ev.Due).UTC()
							s.Due = &t
						}
						s.Recipient = b64(ev.Recipient)
						s.Notes = b64(ev.Notes)
					}
					if *asJSON {
						return enc.Encode(s)
					}
					_, err = fmt.Fprintln(e.stdout, formatEntry(s))
					return err
				})
			}
		},
	}
}

func b64(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

func formatEntry(s shownEntry) string {
	if s.Error != "" {
		return fmt.Sprintf("%7d  UNREADABLE: %s", s.Index, s.Error)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%7d  %s  %-18s", s.Index, s.Time.Format("2006-01-02 15:04:05.000Z"), s.Kind)
	add := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	add("actor", s.Actor)
	add("second", s.Second)
	add("keyset", s.KeySet)
	if s.Slot != 0 {
		add("slot", fmt.Sprint(s.Slot))
	}
	if s.Due != nil {
		add("due", s.Due.Format(time.RFC3339))
	}
	add("reason", s.Reason)
	if s.Recipient != "" {
		add("recipient", "(personal)")
	}
	if s.Notes != "" {
		add("notes", "(personal)")
	}
	keys := make([]string, 0, len(s.Detail))
	for k := range s.Detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(k, fmt.Sprintf("%q", s.Detail[k]))
	}
	return b.String()
}

func auditProveCommand() *command {
	return &command{
		name:    "prove",
		summary: "Print an inclusion proof of one entry against the newest signed checkpoint.",
		usage:   "--db FILE --index N",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			db := fs.String("db", "", "kiosk database `file`")
			index := fs.Int64("index", -1, "entry index to prove")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 || *index < 0 {
					fs.Usage()
					return errUsage
				}
				d, signed, cp, err := openHead(ctx, *db)
				if err != nil {
					return err
				}
				defer d.Close()
				if *index >= cp.Size {
					return fmt.Errorf("entry %d is not in the log (size %d)", *index, cp.Size)
				}
				leaves, err := d.ReadEntries(*index, *index+1)
				if err != nil {
					return err
				}
				proof, err := d.ProveInclusion(ctx, *index, cp.Size)
				if err != nil {
					return err
				}
				leafHash := tlog.RecordHash(leaves[0])
				if err := tlog.CheckRecord(proof, cp.Size, cp.Root, *index, leafHash); err != nil {
					return fmt.Errorf("entry %d: the stored tree does not prove it against the signed checkpoint: %w", *index, err)
				}
				fmt.Fprintf(e.stdout, "index %d\nleaf %s\nleaf-hash %s\nproof %d\n", *index, base64.StdEncoding.EncodeToString(leaves[0]), leafHash, len(proof))
				for _, h := range proof {
					fmt.Fprintln(e.stdout, h)
				}
				fmt.Fprintf(e.stdout, "\n%s", signed)
				return nil
			}
		},
	}
}

func auditExportCommand() *command {
	return &command{
		name:    "export",
		summary: "Write the log as a C2SP tlog-tiles directory (checkpoint, hash tiles, entry bundles).",
		usage:   "--db FILE --out DIR",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			db := fs.String("db", "", "kiosk database `file`")
			out := fs.String("out", "", "directory to write (created; must be empty or missing)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 || *out == "" {
					fs.Usage()
					return errUsage
				}
				if ents, err := os.ReadDir(*out); err == nil && len(ents) > 0 {
					return fmt.Errorf("%s is not empty", *out)
				}
				d, signed, cp, err := openHead(ctx, *db)
				if err != nil {
					return err
				}
				defer d.Close()
				cosigned, err := d.Cosigned(ctx)
				if err != nil {
					return err
				}
				n, err := audit.Export(*out, signed, cp, d.HashReader(ctx), d, cosigned...)
				if err != nil {
					return err
				}
				vkey, _ := d.VerifierKey()
				fmt.Fprintf(e.stdout, "wrote %d files to %s: tree size %d, root %s, %d cosigned checkpoints\nverifier key: %s\n", n, *out, cp.Size, cp.Root, len(cosigned), vkey)
				return nil
			}
		},
	}
}
