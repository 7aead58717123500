package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

// CreateUser stores a new user. See agenttrace.UserStore.
func (s *Store) CreateUser(ctx context.Context, u agenttrace.User) error {
	args, err := sqlstore.NewUser(u, s.now)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	_, err = s.pool.Exec(ctx, sqlstore.Dollars(sqlstore.InsertUser), args...)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return fmt.Errorf("create user %s: %w: the user exists", u.Name, agenttrace.ErrInvalid)
	}
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Name, err)
	}
	return nil
}

// DisableUser marks a user disabled and revokes their live tokens in one transaction.
// See agenttrace.UserStore.
func (s *Store) DisableUser(ctx context.Context, name string) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("disable user %s: %w", name, err)
	}
	defer tx.Rollback(ctx)
	now := s.now().UnixMilli()
	tag, err := tx.Exec(ctx, sqlstore.Dollars(sqlstore.DisableUserSQL), now, name)
	if err != nil {
		return 0, fmt.Errorf("disable user %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return 0, fmt.Errorf("disable user %s: %w", name, agenttrace.ErrNotFound)
	}
	tag, err = tx.Exec(ctx, sqlstore.Dollars(sqlstore.RevokeUserTokensSQL), now, name)
	if err != nil {
		return 0, fmt.Errorf("disable user %s: revoke tokens: %w", name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("disable user %s: commit: %w", name, err)
	}
	return int(tag.RowsAffected()), nil
}
