package postgres

import (
	"context"
	"time"

	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

// SawTelemetry records that telemetry from source arrived at t, keeping the later time.
func (s *Store) SawTelemetry(ctx context.Context, source string, at time.Time) error {
	return sqlstore.SawTelemetry(ctx, s.reader, func(ctx context.Context, q string, args ...any) error {
		_, err := s.pool.Exec(ctx, q, args...)
		return err
	}, source, at)
}
