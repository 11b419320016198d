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

// Export writes the log of the given signed checkpoint as a C2SP
// tlog-tiles directory in dir: the checkpoint, every hash tile and every
// entry bundle for a tree of size cp.Size. It returns the number of files.
func Export(dir string, signed []byte, cp Checkpoint, hashes tlog.HashReader, entries EntryReader) (int, error) {
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
	if err := write("checkpoint", signed); err != nil {
		return files, fmt.Errorf("export: %w", err)
	}
	return files, nil
}
