package store

import (
	"context"
	"fmt"
)

// Recent calls fn for at most n entries of index below before (-1: the
// whole log), newest first, stopping at fn's first error. It reads only
// those entries: one query walking the primary key backwards with a LIMIT,
// so its cost does not grow with the log. To read further back, call it
// again with before set to the last index fn saw.
func (d *DB) Recent(ctx context.Context, before int64, n int, fn func(Entry) error) error {
	if n <= 0 || before == 0 {
		return nil
	}
	if before < 0 {
		before = 1<<63 - 1
	}
	rows, err := d.db.QueryContext(ctx, "SELECT idx, leaf, hashes FROM log_entries WHERE idx < ?1 ORDER BY idx DESC LIMIT ?2", before, n)
	if err != nil {
		return d.wrap("read recent log", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.Index, &e.Leaf, &e.Hashes); err != nil {
			return fmt.Errorf("read recent log: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return d.wrapNil("read recent log", rows.Err())
}
