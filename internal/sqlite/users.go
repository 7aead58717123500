package sqlite

import (
	"context"
	"fmt"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

// CreateUser stores a new user. See agenttrace.UserStore.
func (s *Store) CreateUser(ctx context.Context, u agenttrace.User) error {
	args, err := sqlstore.NewUser(u, s.now)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Name, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE name = ?`, u.Name).Scan(&n); err != nil {
		return fmt.Errorf("create user %s: %w", u.Name, err)
	}
	if n > 0 {
		return fmt.Errorf("create user %s: %w: the user exists", u.Name, agenttrace.ErrInvalid)
	}
	if _, err := tx.ExecContext(ctx, sqlstore.InsertUser, args...); err != nil {
		return fmt.Errorf("create user %s: %w", u.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create user %s: commit: %w", u.Name, err)
	}
	return nil
}

// DisableUser marks a user disabled and revokes their live tokens in one transaction.
// See agenttrace.UserStore.
func (s *Store) DisableUser(ctx context.Context, name string) (int, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("disable user %s: %w", name, err)
	}
	defer tx.Rollback()
	now := s.now().UnixMilli()
	r, err := tx.ExecContext(ctx, sqlstore.DisableUserSQL, now, name)
	if err != nil {
		return 0, fmt.Errorf("disable user %s: %w", name, err)
	}
	if n, err := r.RowsAffected(); err != nil || n == 0 {
		return 0, fmt.Errorf("disable user %s: %w", name, orNotFound(err))
	}
	r, err = tx.ExecContext(ctx, sqlstore.RevokeUserTokensSQL, now, name)
	if err != nil {
		return 0, fmt.Errorf("disable user %s: revoke tokens: %w", name, err)
	}
	revoked, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("disable user %s: revoke tokens: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("disable user %s: commit: %w", name, err)
	}
	return int(revoked), nil
}

// orNotFound is err, or agenttrace.ErrNotFound when an update matched no row.
func orNotFound(err error) error {
	if err != nil {
		return err
	}
	return agenttrace.ErrNotFound
}
