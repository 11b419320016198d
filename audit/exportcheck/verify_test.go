package exportcheck_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	mathrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is fixed by C2SP tlog-tiles.
const tileHeight = 8

// workDir holds the keycab binary, its database and the export; TestMain
// creates and removes it.
var workDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "exportcheck")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// export is a log written by "keycab audit export".
type export struct {
	dir  string // the tlog-tiles directory
	vkey string // the verifier key the export printed
	n    int64  // entries the bench appended
}

var (
	exportOnce sync.Once
	exported   export
	exportErr  error
)

// mustExport builds keycab, benches a log and exports it, once per run.
func mustExport(tb testing.TB) export {
	tb.Helper()
	exportOnce.Do(func() {
		// Over 256,000 entries the tile numbers reach 1000 and paths take
		// the x-prefixed form; over 65,536 there are level-2 tiles.
		n := int64(257_000)
		if testing.Short() {
			n = 70_000
		}
		exported, exportErr = runExport(tb, workDir, n)
	})
	if exportErr != nil {
		tb.Fatal(exportErr)
	}
	return exported
}

func runExport(tb testing.TB, dir string, n int64) (export, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return export{}, fmt.Errorf("the go command is needed to build keycab: %w", err)
	}
	bin := filepath.Join(dir, "keycab")
	db := filepath.Join(dir, "k.db")
	out := filepath.Join(dir, "tiles")
	build := exec.Command(goTool, "build", "-o", bin, "keycab.dev/keycab/cmd/keycab")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if _, err := run(tb, build); err != nil {
		return export{}, err
	}
	if _, err := run(tb, exec.Command(bin, "bench", "audit", "--db", db, "-n", strconv.FormatInt(n, 10), "--synced", "20")); err != nil {
		return export{}, err
	}
	stdout, err := run(tb, exec.Command(bin, "audit", "export", "--db", db, "--out", out))
	if err != nil {
		return export{}, err
	}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		if vkey, ok := strings.CutPrefix(sc.Text(), "verifier key: "); ok {
			return export{dir: out, vkey: strings.TrimSpace(vkey), n: n}, nil
		}
	}
	return export{}, fmt.Errorf("keycab audit export printed no verifier key:\n%s", stdout)
}

func run(tb testing.TB, cmd *exec.Cmd) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s%s", strings.Join(cmd.Args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	tb.Logf("%s %s (%s)", filepath.Base(cmd.Args[0]), strings.Join(cmd.Args[1:], " "), time.Since(start).Round(time.Millisecond))
	return stdout.Bytes(), nil
}

// checkpoint is the body of a C2SP tlog-checkpoint.
type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// parseCheckpoint parses "<origin>\n<size>\n<base64 root>\n[extensions]"
// strictly.
func parseCheckpoint(text string) (checkpoint, error) {
	var c checkpoint
	lines := strings.Split(text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return c, errors.New("checkpoint is not three or more lines ending in a newline")
	}
	lines = lines[:len(lines)-1]
	if c.origin = lines[0]; c.origin == "" {
		return c, errors.New("checkpoint origin is empty")
	}
	size := lines[1]
	if size == "" || strings.Trim(size, "0123456789") != "" || (size[0] == '0' && size != "0") {
		return c, fmt.Errorf("checkpoint size %q is not a decimal number", size)
	}
	var err error
	if c.size, err = strconv.ParseInt(size, 10, 64); err != nil {
		return c, fmt.Errorf("checkpoint size: %w", err)
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return c, fmt.Errorf("checkpoint root %q is not a base64 SHA-256 hash", lines[2])
	}
	copy(c.root[:], root)
	for _, ext := range lines[3:] {
		if ext == "" {
			return c, errors.New("checkpoint has an empty extension line")
		}
	}
	return c, nil
}

// tilePath returns the C2SP tlog-tiles path of a hash tile, or of an
// entry bundle when t.L is -1: tile/<L>/<N>[.p/<W>], N in groups of
// three digits with all but the last prefixed by "x".
func tilePath(t tlog.Tile) string {
	level := strconv.Itoa(t.L)
	if t.L == -1 {
		level = "entries"
	}
	n := fmt.Sprintf("%03d", t.N%1000)
	for rest := t.N / 1000; rest > 0; rest /= 1000 {
		n = fmt.Sprintf("x%03d/%s", rest%1000, n)
	}
	p := "tile/" + level + "/" + n
	if t.W != 1<<tileHeight {
		p += fmt.Sprintf(".p/%d", t.W)
	}
	return p
}

// tileDir is a tlog.TileReader over a tlog-tiles directory.
type tileDir string

func (tileDir) Height() int { return tileHeight }

func (d tileDir) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := os.ReadFile(filepath.Join(string(d), filepath.FromSlash(tilePath(t))))
		if err != nil {
			return nil, err
		}
		data[i] = b
	}
	return data, nil
}

func (tileDir) SaveTiles([]tlog.Tile, [][]byte) {}

var _ tlog.TileReader = tileDir("")

// splitBundle splits an entry bundle into its entries.
func splitBundle(b []byte) ([][]byte, error) {
	var entries [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("entry %d: truncated length", len(entries))
		}
		n := int(binary.BigEndian.Uint16(b))
		if b = b[2:]; len(b) < n {
			return nil, fmt.Errorf("entry %d: length %d, but %d bytes left", len(entries), n, len(b))
		}
		entries = append(entries, b[:n])
		b = b[n:]
	}
	return entries, nil
}

// mth is the Merkle tree hash of RFC 6962 section 2.1 over leaf hashes.
func mth(leaves [][sha256.Size]byte) [sha256.Size]byte {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := mth(leaves[:k]), mth(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// verifyTiles checks the C2SP tlog-tiles directory dir: the checkpoint's
// signature by vkey, the hash tiles against its root, every entry against
// the tiles, inclusion proofs for a sample of entries, and the root
// recomputed from the entries alone.
func verifyTiles(dir, vkey string) (checkpoint, error) {
	var cp checkpoint
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return cp, fmt.Errorf("verifier key: %w", err)
	}
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return cp, err
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return cp, fmt.Errorf("open checkpoint: %w", err)
	}
	if cp, err = parseCheckpoint(n.Text); err != nil {
		return cp, err
	}
	if cp.origin != v.Name() {
		return cp, fmt.Errorf("checkpoint origin %q is not the key's name %q", cp.origin, v.Name())
	}

	hashes := tlog.TileHashReader(tlog.Tree{N: cp.size, Hash: cp.root}, tileDir(dir))
	root, err := tlog.TreeHash(cp.size, hashes)
	if err != nil {
		return cp, fmt.Errorf("tree hash from tiles: %w", err)
	}
	if root != cp.root {
		return cp, fmt.Errorf("tiles give root %v, checkpoint says %v", root, cp.root)
	}

	leaves := make([][sha256.Size]byte, 0, cp.size)
	for start := int64(0); start < cp.size; start += 1 << tileHeight {
		t := tlog.Tile{H: tileHeight, L: 0, N: start >> tileHeight, W: int(min(cp.size-start, 1<<tileHeight))}
		idx := make([]int64, t.W)
		for j := range idx {
			idx[j] = tlog.StoredHashIndex(0, start+int64(j))
		}
		want, err := hashes.ReadHashes(idx)
		if err != nil {
			return cp, fmt.Errorf("%s: hashes of entries %d-%d: %w", tilePath(t), start, start+int64(t.W)-1, err)
		}
		t.L = -1
		bundle, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(tilePath(t))))
		if err != nil {
			return cp, fmt.Errorf("entry bundle: %w", err)
		}
		entries, err := splitBundle(bundle)
		if err != nil {
			return cp, fmt.Errorf("%s: %w", tilePath(t), err)
		}
		if len(entries) != t.W {
			return cp, fmt.Errorf("%s: %d entries, want %d", tilePath(t), len(entries), t.W)
		}
		for j, e := range entries {
			if h := tlog.RecordHash(e); h != want[j] {
				return cp, fmt.Errorf("%s: entry %d: leaf hash %v, but the authenticated tiles have %v", tilePath(t), start+int64(j), h, want[j])
			}
			leaves = append(leaves, sha256.Sum256(append([]byte{0}, e...)))
		}
	}
	if int64(len(leaves)) != cp.size {
		return cp, fmt.Errorf("%d entries, checkpoint size %d", len(leaves), cp.size)
	}

	sample := []int64{0, 1, 255, 256, 65535, 65536, 256_000, cp.size / 2, cp.size - 1}
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	for range 32 {
		sample = append(sample, rng.Int64N(max(cp.size, 1)))
	}
	for _, i := range sample {
		if i < 0 || i >= cp.size {
			continue
		}
		proof, err := tlog.ProveRecord(cp.size, i, hashes)
		if err != nil {
			return cp, fmt.Errorf("prove entry %d: %w", i, err)
		}
		if err := tlog.CheckRecord(proof, cp.size, cp.root, i, leaves[i]); err != nil {
			return cp, fmt.Errorf("check proof of entry %d: %w", i, err)
		}
	}

	if got := mth(leaves); got != cp.root {
		return cp, fmt.Errorf("entries give root %s, checkpoint says %v", base64.StdEncoding.EncodeToString(got[:]), cp.root)
	}
	return cp, nil
}

func TestExportVerifies(t *testing.T) {
	ex := mustExport(t)
	start := time.Now()
	cp, err := verifyTiles(ex.dir, ex.vkey)
	if err != nil {
		t.Fatal(err)
	}
	if cp.size != ex.n {
		t.Errorf("checkpoint size %d, bench appended %d", cp.size, ex.n)
	}
	t.Logf("verified %d entries of %s, root %v (%s)", cp.size, cp.origin, cp.root, time.Since(start).Round(time.Millisecond))
}

func TestExportRejectsDamage(t *testing.T) {
	ex := mustExport(t)
	size := ex.n
	if size%(1<<tileHeight) == 0 {
		t.Fatalf("size %d leaves no partial entry bundle", size)
	}
	mid := tlog.Tile{H: tileHeight, L: 0, N: size / 2 >> tileHeight, W: 1 << tileHeight}
	midBundle := mid
	midBundle.L = -1
	last := tlog.Tile{H: tileHeight, L: -1, N: size >> tileHeight, W: int(size % (1 << tileHeight))}

	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string // in the error
	}{
		{
			name: "entry byte",
			damage: func(t *testing.T, dir string) {
				flip(t, dir, tilePath(midBundle), func(b []byte) int {
					return 2 + int(binary.BigEndian.Uint16(b))/2 // inside the first entry
				})
			},
			want: fmt.Sprintf("entry %d:", mid.N<<tileHeight),
		},
		{
			name: "hash tile byte",
			damage: func(t *testing.T, dir string) {
				flip(t, dir, tilePath(mid), func([]byte) int { return 7*tlog.HashSize + 3 })
			},
			want: tilePath(mid) + ":",
		},
		{
			name: "signature by another key of the same name",
			damage: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "checkpoint")
				signed, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				text, _, ok := bytes.Cut(signed, []byte("\n\n"))
				if !ok {
					t.Fatalf("checkpoint has no signature block:\n%s", signed)
				}
				name, _, _ := strings.Cut(ex.vkey, "+")
				skey, _, err := note.GenerateKey(rand.Reader, name)
				if err != nil {
					t.Fatal(err)
				}
				s, err := note.NewSigner(skey)
				if err != nil {
					t.Fatal(err)
				}
				forged, err := note.Sign(&note.Note{Text: string(text) + "\n"}, s)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, forged, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: "open checkpoint:",
		},
		{
			name: "last partial entry bundle deleted",
			damage: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, filepath.FromSlash(tilePath(last)))); err != nil {
					t.Fatal(err)
				}
			},
			want: tilePath(last),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "tiles")
			if err := os.CopyFS(dir, os.DirFS(ex.dir)); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, dir)
			_, err := verifyTiles(dir, ex.vkey)
			if err == nil {
				t.Fatal("damaged export verified")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
			t.Log(err)
		})
	}
}

// flip inverts one byte of the file rel in dir, at the offset at returns
// for the file's contents.
func flip(t *testing.T, dir, rel string, at func([]byte) int) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[at(b)] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTilePath(t *testing.T) {
	for _, tt := range []struct {
		tile tlog.Tile
		want string
	}{
		{tlog.Tile{H: 8, L: 0, N: 1234, W: 256}, "tile/0/x001/234"},
		{tlog.Tile{H: 8, L: 0, N: 0, W: 6}, "tile/0/000.p/6"},
		{tlog.Tile{H: 8, L: 2, N: 0, W: 1}, "tile/2/000.p/1"},
		{tlog.Tile{H: 8, L: -1, N: 1234067, W: 256}, "tile/entries/x001/x234/067"},
		{tlog.Tile{H: 8, L: -1, N: 1000, W: 232}, "tile/entries/x001/000.p/232"},
	} {
		if got := tilePath(tt.tile); got != tt.want {
			t.Errorf("tilePath(%+v) = %q, want %q", tt.tile, got, tt.want)
		}
	}
}

// TestIndependent fails if this package imports a keycab package, or any
// module other than the standard library and golang.org/x/mod/sumdb.
func TestIndependent(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(files, " "), "verify_test.go") {
		t.Fatalf("did not find this test's own source among %v", files)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(path, "/")
			switch {
			case strings.HasPrefix(path, "keycab.dev/"):
				t.Errorf("%s imports %s: the verifier must not depend on keycab", name, path)
			case strings.Contains(first, ".") && path != "golang.org/x/mod/sumdb/note" && path != "golang.org/x/mod/sumdb/tlog":
				t.Errorf("%s imports %s: only the standard library and x/mod/sumdb are allowed", name, path)
			}
		}
	}
}
