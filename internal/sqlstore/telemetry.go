package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// SawTelemetry records with exec that telemetry from source arrived at t, keeping the
// later time. See agenttrace.TelemetrySources.
func SawTelemetry(ctx context.Context, r Reader, exec func(ctx context.Context, q string, args ...any) error, source string, at time.Time) error {
	err := exec(ctx, r.sql(`INSERT INTO telemetry_sources (source, last_ms) VALUES (?, ?)
		ON CONFLICT (source) DO UPDATE SET last_ms = excluded.last_ms WHERE excluded.last_ms > telemetry_sources.last_ms`),
		source, at.UnixMilli())
	if err != nil {
		return fmt.Errorf("record telemetry source: %w", err)
	}
	return nil
}

// TelemetrySeen is when telemetry from source last arrived ("" for any), or zero.
func (r Reader) TelemetrySeen(ctx context.Context, source string) (time.Time, error) {
	var ms *int64
	err := r.Query(ctx, r.sql(`SELECT max(last_ms) FROM telemetry_sources WHERE ? = '' OR source = ?`), []any{source, source},
		func(rows Rows) error {
			if rows.Next() {
				return rows.Scan(&ms)
			}
			return rows.Err()
		})
	if err != nil {
		return time.Time{}, fmt.Errorf("read telemetry source: %w", err)
	}
	if ms == nil {
		return time.Time{}, nil
	}
	return time.UnixMilli(*ms).UTC(), nil
}
