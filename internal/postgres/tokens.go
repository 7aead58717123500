package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

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
	_, err = s.pool.Exec(ctx, sqlstore.Dollars(sqlstore.InsertToken), sqlstore.TokenArgs(t, secretHash, createdMS)...)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return fmt.Errorf("create token: %w: a token with that id or secret exists", agenttrace.ErrInvalid)
	}
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

// RevokeToken marks a token revoked. Revoking a revoked token changes nothing.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	var exists bool
	err := s.pool.QueryRow(ctx, `WITH u AS (UPDATE tokens SET revoked_ms = COALESCE(revoked_ms, $1) WHERE id = $2 RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM u)`, s.now().UnixMilli(), id).Scan(&exists)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if !exists {
		return fmt.Errorf("revoke token %s: %w", id, agenttrace.ErrNotFound)
	}
	return nil
}

// RevokeUserTokens revokes every live token of user. See agenttrace.TokenStore.
func (s *Store) RevokeUserTokens(ctx context.Context, user string) (int, error) {
	if user == "" {
		return 0, fmt.Errorf("revoke tokens of a user: %w: a user is required", agenttrace.ErrInvalid)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE tokens SET revoked_ms = $1 WHERE user_name = $2 AND revoked_ms IS NULL`,
		s.now().UnixMilli(), user)
	if err != nil {
		return 0, fmt.Errorf("revoke tokens of %s: %w", user, err)
	}
	return int(tag.RowsAffected()), nil
}

// TokenBySecretHash returns the live token with that hash, or agenttrace.ErrNotFound.
func (s *Store) TokenBySecretHash(ctx context.Context, secretHash string) (*agenttrace.Token, error) {
	t, err := sqlstore.ScanToken(s.pool.QueryRow(ctx,
		`SELECT `+sqlstore.TokenCols+` FROM tokens WHERE secret_hash = $1 AND revoked_ms IS NULL`, secretHash))
	if isNoRows(err) {
		return nil, fmt.Errorf("token lookup: %w", agenttrace.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("token lookup: %w", err)
	}
	return &t, nil
}

// TouchToken records that a token was just used. Unknown IDs are ignored.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE tokens SET last_used_ms = $1 WHERE id = $2`, at.UnixMilli(), id); err != nil {
		return fmt.Errorf("touch token %s: %w", id, err)
	}
	return nil
}
