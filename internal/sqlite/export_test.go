package sqlite

import (
	"context"
	"database/sql"
)

// MigrateUpTo applies migrations up to and including name (tests of upgrades).
func (s *Store) MigrateUpTo(ctx context.Context, name string) error { return s.migrate(ctx, name) }

// DB is the writer connection (tests that need raw SQL).
func (s *Store) DB() *sql.DB { return s.write }

// SetRareTextLimit changes when a text query counts as rare (both search plans in tests).
func (s *Store) SetRareTextLimit(n int) { s.rareTextLimit = n }
