package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// TileHeight is the height of exported tiles, fixed by C2SP tlog-tiles.
const TileHeight = 8

// EntryReader reads the entries [start, end) in index order.
type EntryReader interface {
	ReadEntries(start, end int64) ([][]byte, error)
}

// TilePath returns the C2SP tlog-tiles path of a hash tile, or of an entry
// bundle when t.L is -1. tlog's own paths carry the height as an extra
// element ("tile/8/0/..."); tlog-tiles fixes the height and drops it.
func TilePath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", t.H))
	if t.L == -1 {
		return "tile/entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

// CosignedDir is the directory of an export that holds each cosigned
// checkpoint the log keeps, as cosigned/SIZE: the log's signed checkpoint
// of that size with every cosignature on it. tlog-tiles defines only the
// newest checkpoint; these let a verifier check cosignatures of older
// sizes against the same tiles.
const CosignedDir = "cosigned"

// Export writes the log of the given signed checkpoint as a C2SP
// tlog-tiles directory in dir: the checkpoint, every hash tile and every
// entry bundle for a tree of size cp.Size, and each of the cosigned
// checkpoints (signed notes of sizes up to cp.Size) under CosignedDir,
// those of one size merged into one note. The checkpoint file carries
// the cosignatures of its own size too. It returns the number of files.
func Export(dir string, signed []byte, cp Checkpoint, hashes tlog.HashReader, entries EntryReader, cosigned ...[]byte) (int, error) {
	files := 0
	write := func(rel string, data []byte) error {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		files++
		return os.WriteFile(p, data, 0o644)
	}
	for _, t := range tlog.NewTiles(TileHeight, 0, cp.Size) {
		data, err := ReadTile(t, hashes, entries)
		if err != nil {
			return files, fmt.Errorf("export: %w", err)
		}
		if err := write(TilePath(t), data); err != nil {
			return files, fmt.Errorf("export: %w", err)
		}
		if t.L != 0 {
			continue
		}
		et := t
		et.L = -1
		bundle, err := ReadTile(et, hashes, entries)
		if err != nil {
			return files, fmt.Errorf("export: %w", err)
		}
		if err := write(TilePath(et), bundle); err != nil {
			return files, fmt.Errorf("export: %w", err)
		}
	}
	bySize := map[int64][][]byte{}
	var sizes []int64
	for _, c := range cosigned {
		text, err := NoteText(c)
		if err != nil {
			return files, fmt.Errorf("export: cosigned checkpoint: %w", err)
		}
		p, err := ParseCheckpoint(text)
		if err != nil {
			return files, fmt.Errorf("export: cosigned checkpoint: %w", err)
		}
		if p.Size > cp.Size {
			continue // newer than the exported tree
		}
		if bySize[p.Size] == nil {
			sizes = append(sizes, p.Size)
		}
		bySize[p.Size] = append(bySize[p.Size], c)
	}
	for _, size := range sizes {
		merged, err := MergeSignatures(bySize[size]...)
		if err != nil {
			return files, fmt.Errorf("export: cosigned checkpoint of size %d: %w", size, err)
		}
		if err := write(fmt.Sprintf("%s/%d", CosignedDir, size), merged); err != nil {
			return files, fmt.Errorf("export: %w", err)
		}
	}
	if same := bySize[cp.Size]; len(same) > 0 {
		if text, _ := NoteText(signed); text == mustText(same[0]) {
			var err error
			if signed, err = MergeSignatures(append([][]byte{signed}, same...)...); err != nil {
				return files, fmt.Errorf("export: %w", err)
			}
		}
	}
	if err := write("checkpoint", signed); err != nil {
		return files, fmt.Errorf("export: %w", err)
	}
	return files, nil
}

func mustText(n []byte) string {
	t, _ := NoteText(n)
	return t
}
