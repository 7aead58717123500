package clickhouse

import (
	"context"
	"fmt"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// DiskStats reports the active parts of every table in the store's database: their
// rows (before a ReplacingMergeTree's merges fold repeated versions) and bytes on disk.
// ClickHouse keeps no separate indexes (the sparse primary key is in the parts), and the
// event count is left to the source of truth. On a cluster the parts of every shard
// count, under the local tables' names.
func (s *Store) DiskStats(ctx context.Context) (agenttrace.DiskStats, error) {
	var d agenttrace.DiskStats
	rows, err := s.conn.Query(ctx, `SELECT table, toInt64(sum(rows)), toInt64(sum(bytes_on_disk))
		FROM `+s.allNodes("parts")+` WHERE active AND database = ? GROUP BY table ORDER BY table`, s.db)
	if err != nil {
		return d, fmt.Errorf("disk stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t := agenttrace.TableStats{Store: "clickhouse"}
		if err := rows.Scan(&t.Table, &t.Rows, &t.Bytes); err != nil {
			return d, fmt.Errorf("disk stats: %w", err)
		}
		d.Tables = append(d.Tables, t)
		d.Bytes += t.Bytes
	}
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("disk stats: %w", err)
	}
	return d, nil
}
