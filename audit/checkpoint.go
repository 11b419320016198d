package audit

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, its
// size and the root hash of the tree of that size.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	// Extensions are optional extra lines, kept as they are.
	Extensions []string
}

// Text returns the checkpoint's note text.
func (c Checkpoint) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
	for _, e := range c.Extensions {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return b.String()
}

// ParseCheckpoint parses a checkpoint's note text strictly.
func ParseCheckpoint(text string) (Checkpoint, error) {
	var c Checkpoint
	if !strings.HasSuffix(text, "\n") {
		return c, errors.New("checkpoint does not end in a newline")
	}
	if !utf8.ValidString(text) {
		return c, errors.New("checkpoint is not UTF-8")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return c, errors.New("checkpoint has fewer than three lines")
	}
	c.Origin = lines[0]
	if c.Origin == "" || strings.ContainsAny(c.Origin, "\r\t") {
		return c, errors.New("checkpoint origin is empty or has control characters")
	}
	sz := lines[1]
	if sz == "" || (len(sz) > 1 && sz[0] == '0') || strings.TrimLeft(sz, "0123456789") != "" {
		return c, fmt.Errorf("checkpoint size %q is not a decimal number", sz)
	}
	n, err := strconv.ParseInt(sz, 10, 64)
	if err != nil {
		return c, fmt.Errorf("checkpoint size %q: %w", sz, err)
	}
	c.Size = n
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return c, fmt.Errorf("checkpoint root %q is not a base64 SHA-256 hash", lines[2])
	}
	copy(c.Root[:], root)
	for _, e := range lines[3:] {
		if e == "" {
			return c, errors.New("checkpoint has an empty extension line")
		}
	}
	c.Extensions = lines[3:]
	return c, nil
}

// SignCheckpoint signs c with signer, whose name must be c's origin.
func SignCheckpoint(c Checkpoint, signer note.Signer) ([]byte, error) {
	if signer.Name() != c.Origin {
		return nil, fmt.Errorf("sign checkpoint: key %q does not match origin %q", signer.Name(), c.Origin)
	}
	msg, err := note.Sign(&note.Note{Text: c.Text()}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return msg, nil
}

// OpenCheckpoint verifies a signed checkpoint with the log's verifier and
// parses it. Signatures by other keys (cosignatures) are allowed and
// ignored unless known lists their verifiers too.
func OpenCheckpoint(msg []byte, v note.Verifier, others ...note.Verifier) (Checkpoint, *note.Note, error) {
	n, err := note.Open(msg, note.VerifierList(append([]note.Verifier{v}, others...)...))
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint signature: %w", err)
	}
	signed := false
	for _, s := range n.Sigs {
		if s.Name == v.Name() && s.Hash == v.KeyHash() {
			signed = true
		}
	}
	if !signed {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint is not signed by %s", v.Name())
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint origin %q is not the log's %q", c.Origin, v.Name())
	}
	return c, n, nil
}

// NoteText returns the text of a signed note without verifying it, for
// display and for parsing untrusted input.
func NoteText(msg []byte) (string, error) {
	i := bytes.Index(msg, []byte("\n\n"))
	if i < 0 {
		return "", errors.New("note has no signature block")
	}
	return string(msg[:i+1]), nil
}

// MergeSignatures returns one signed note with the text of notes (which
// must all carry the same text) and every signature line any of them
// carries, each once, in the order first seen: a checkpoint with its
// log's signature and every cosignature a kiosk holds for it, as C2SP
// tlog-witness hands a checkpoint on.
func MergeSignatures(notes ...[]byte) ([]byte, error) {
	if len(notes) == 0 {
		return nil, errors.New("merge signatures: no note")
	}
	text, err := NoteText(notes[0])
	if err != nil {
		return nil, err
	}
	out := []byte(text + "\n")
	seen := map[string]bool{}
	for _, n := range notes {
		t, err := NoteText(n)
		if err != nil {
			return nil, err
		}
		if t != text {
			return nil, errors.New("merge signatures: the notes carry different texts")
		}
		for _, line := range bytes.SplitAfter(n[len(t)+1:], []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 || seen[string(line)] {
				continue
			}
			seen[string(line)] = true
			out = append(out, line...)
		}
	}
	return out, nil
}
