package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
)

// KeptText is a piece of personal text the kiosk keeps: the salt of its
// reference and the text.
type KeptText struct {
	Salt []byte
	Text string
}

// KeptText returns the salt and text kept for a reference from an entry;
// ok is false once erased (or never kept). The sync agent sends them to
// HQ beside the entries (sync/wire minor 4).
func (d *DB) KeptText(ctx context.Context, ref []byte) (kt KeptText, ok bool, err error) {
	var text []byte
	err = d.db.QueryRowContext(ctx, "SELECT salt, CAST(text AS BLOB) FROM personal WHERE ref = ?", ref).Scan(&kt.Salt, &text)
	if errors.Is(err, sql.ErrNoRows) {
		return kt, false, nil
	}
	if err != nil {
		return kt, false, d.wrap("read personal text", err)
	}
	kt.Text = string(text)
	return kt, true, nil
}

// MayReference reports whether entry bytes may carry a personal text's
// reference: the deterministic encoding writes a recipient as 0x0b 0x58
// 0x20 and its 32 bytes, notes as 0x0c 0x58 0x20, and a badge's
// reference under the detail key audit.BadgeRefKey, so an entry without
// any need not be decoded to look.
func MayReference(leaf []byte) bool {
	return bytes.Contains(leaf, recipientKey) || bytes.Contains(leaf, notesKey) || bytes.Contains(leaf, badgeRefKey)
}

// KeptStill returns the JPEG kept for the still of entry index; ok is
// false once erased or expired (or never kept). The sync agent sends it
// to HQ beside the entries (sync/wire minor 11), after checking it
// against the entry's hash.
func (d *DB) KeptStill(ctx context.Context, index int64) (jpeg []byte, ok bool, err error) {
	err = d.db.QueryRowContext(ctx, "SELECT jpeg FROM stills WHERE idx = ?", index).Scan(&jpeg)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, d.wrap("read still", err)
	}
	return jpeg, true, nil
}

// MayHoldStill reports whether entry bytes may carry a still's hash (the
// detail key audit.StillKey), so that an entry without one need not be
// decoded to look.
func MayHoldStill(leaf []byte) bool {
	return bytes.Contains(leaf, stillKey)
}

var stillKey = []byte{0x65, 's', 't', 'i', 'l', 'l'} // text(5) "still"
