package sqlite

import (
	"context"
	"fmt"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// DiskStats reports every table's rows and bytes (its pages and its indexes', from the
// dbstat table, one row per b-tree: a page at a time took a minute at 2 GB), the main
// file's size, and its free pages.
func (s *Store) DiskStats(ctx context.Context) (agenttrace.DiskStats, error) {
	var d agenttrace.DiskStats
	rows, err := s.read.QueryContext(ctx, `SELECT m.tbl_name, SUM(CASE WHEN m.type = 'table' THEN d.pgsize ELSE 0 END),
		SUM(CASE WHEN m.type = 'index' THEN d.pgsize ELSE 0 END)
		FROM dbstat d JOIN sqlite_schema m ON m.name = d.name WHERE d.aggregate = TRUE
		GROUP BY m.tbl_name ORDER BY m.tbl_name`)
	if err != nil {
		return d, fmt.Errorf("disk stats: %w", err)
	}
	for rows.Next() {
		t := agenttrace.TableStats{Store: "sqlite"}
		if err := rows.Scan(&t.Table, &t.Bytes, &t.IndexBytes); err != nil {
			rows.Close()
			return d, fmt.Errorf("disk stats: %w", err)
		}
		d.Tables = append(d.Tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("disk stats: %w", err)
	}
	for i := range d.Tables {
		t := &d.Tables[i]
		// The name comes from sqlite_schema, quoted as an identifier.
		if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM "`+t.Table+`"`).Scan(&t.Rows); err != nil {
			return d, fmt.Errorf("disk stats: count %s: %w", t.Table, err)
		}
		if t.Table == "events" {
			d.Events = t.Rows
		}
	}
	var pageSize, pages, free int64
	for _, p := range []struct {
		pragma string
		dest   *int64
	}{{"page_size", &pageSize}, {"page_count", &pages}, {"freelist_count", &free}} {
		if err := s.read.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(p.dest); err != nil {
			return d, fmt.Errorf("disk stats: %s: %w", p.pragma, err)
		}
	}
	d.Bytes, d.FreeBytes = pages*pageSize, free*pageSize
	return d, nil
}
