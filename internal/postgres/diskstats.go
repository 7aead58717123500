package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// DiskStats reports every table of the store's schema: its rows (counted), the bytes of
// its heap with TOAST and of its indexes, and the sum as the store's bytes. PostgreSQL
// keeps no free-page count a query can read cheaply, so FreeBytes stays 0.
func (s *Store) DiskStats(ctx context.Context) (agenttrace.DiskStats, error) {
	var d agenttrace.DiskStats
	rows, err := s.pool.Query(ctx, `SELECT c.relname, pg_total_relation_size(c.oid) - pg_indexes_size(c.oid),
		pg_indexes_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() ORDER BY c.relname`)
	if err != nil {
		return d, fmt.Errorf("disk stats: %w", err)
	}
	d.Tables, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (agenttrace.TableStats, error) {
		t := agenttrace.TableStats{Store: "postgres"}
		return t, r.Scan(&t.Table, &t.Bytes, &t.IndexBytes)
	})
	if err != nil {
		return d, fmt.Errorf("disk stats: %w", err)
	}
	for i := range d.Tables {
		t := &d.Tables[i]
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{t.Table}.Sanitize()).Scan(&t.Rows); err != nil {
			return d, fmt.Errorf("disk stats: count %s: %w", t.Table, err)
		}
		if t.Table == "events" {
			d.Events = t.Rows
		}
		d.Bytes += t.Bytes + t.IndexBytes
	}
	return d, nil
}
