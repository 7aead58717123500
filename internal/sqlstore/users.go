package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// UserCols are the columns Users reads, in its order.
const UserCols = `name, team, created_ms, disabled_ms`

// InsertUser stores a new user, with "?" placeholders; NewUser returns its arguments.
const InsertUser = `INSERT INTO users (name, team, created_ms) VALUES (?, ?, ?)`

// DisableUserSQL marks a user disabled (keeping the first time), with "?" placeholders:
// the disable time and the name. RevokeUserTokensSQL revokes the user's live tokens:
// the revoke time and the name.
const (
	DisableUserSQL      = `UPDATE users SET disabled_ms = COALESCE(disabled_ms, ?) WHERE name = ?`
	RevokeUserTokensSQL = `UPDATE tokens SET revoked_ms = ? WHERE user_name = ? AND revoked_ms IS NULL`
)

// NewUser validates a user about to be stored and returns InsertUser's arguments.
func NewUser(u agenttrace.User, now func() time.Time) ([]any, error) {
	if u.Name == "" {
		return nil, fmt.Errorf("%w: a user needs a name", agenttrace.ErrInvalid)
	}
	created := u.CreatedAt
	if created.IsZero() {
		created = now()
	}
	return []any{u.Name, u.Team, created.UnixMilli()}, nil
}

// Users lists every user, disabled ones included, by name. See agenttrace.UserStore.
func (r Reader) Users(ctx context.Context) ([]agenttrace.User, error) {
	out := []agenttrace.User{}
	err := r.Query(ctx, `SELECT `+UserCols+` FROM users ORDER BY name`, nil, func(rows Rows) error {
		for rows.Next() {
			var u agenttrace.User
			var created int64
			var disabled *int64
			if err := rows.Scan(&u.Name, &u.Team, &created, &disabled); err != nil {
				return err
			}
			u.CreatedAt = time.UnixMilli(created).UTC()
			if disabled != nil {
				d := time.UnixMilli(*disabled).UTC()
				u.DisabledAt = &d
			}
			out = append(out, u)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}
