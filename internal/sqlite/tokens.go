package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

// CreateToken stores a token's record and the hash of its secret. A token whose ID or
// secret hash is already stored, an unknown scope or an empty field is agenttrace.ErrInvalid.
func (s *Store) CreateToken(ctx context.Context, t agenttrace.Token, secretHash string) error {
	createdMS, err := sqlstore.NewToken(t, secretHash, s.now)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE id = ? OR secret_hash = ?`, t.ID, secretHash).Scan(&n); err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("create token: %w: a token with that id or secret exists", agenttrace.ErrInvalid)
	}
	if _, err := tx.ExecContext(ctx, sqlstore.InsertToken, sqlstore.TokenArgs(t, secretHash, createdMS)...); err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create token: commit: %w", err)
	}
	return nil
}

// RevokeToken marks a token revoked. Revoking a revoked token changes nothing.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	r, err := s.write.ExecContext(ctx, `UPDATE tokens SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL`,
		s.now().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 1 {
		return nil
	}
	var one int
	err = s.write.QueryRowContext(ctx, `SELECT 1 FROM tokens WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("revoke token %s: %w", id, agenttrace.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	return nil
}

// RevokeUserTokens revokes every live token of user. See agenttrace.TokenStore.
func (s *Store) RevokeUserTokens(ctx context.Context, user string) (int, error) {
	if user == "" {
		return 0, fmt.Errorf("revoke tokens of a user: %w: a user is required", agenttrace.ErrInvalid)
	}
	r, err := s.write.ExecContext(ctx, `UPDATE tokens SET revoked_ms = ? WHERE user_name = ? AND revoked_ms IS NULL`,
		s.now().UnixMilli(), user)
	if err != nil {
		return 0, fmt.Errorf("revoke tokens of %s: %w", user, err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("revoke tokens of %s: %w", user, err)
	}
	return int(n), nil
}

// TokenBySecretHash returns the live token with that hash, or agenttrace.ErrNotFound.
func (s *Store) TokenBySecretHash(ctx context.Context, secretHash string) (*agenttrace.Token, error) {
	t, err := sqlstore.ScanToken(s.read.QueryRowContext(ctx,
		`SELECT `+sqlstore.TokenCols+` FROM tokens WHERE secret_hash = ? AND revoked_ms IS NULL`, secretHash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("token lookup: %w", agenttrace.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("token lookup: %w", err)
	}
	return &t, nil
}

// TouchToken records that a token was just used. Unknown IDs are ignored: the token may
// have been deleted between the lookup and this call.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	if _, err := s.write.ExecContext(ctx, `UPDATE tokens SET last_used_ms = ? WHERE id = ?`, at.UnixMilli(), id); err != nil {
		return fmt.Errorf("touch token %s: %w", id, err)
	}
	return nil
}
