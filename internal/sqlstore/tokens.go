package sqlstore

import (
	"fmt"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// NewToken checks a token record to create and returns its creation time in Unix
// milliseconds: t.CreatedAt, or now() when that is zero. An empty field or an unknown
// scope is an error wrapping agenttrace.ErrInvalid.
func NewToken(t agenttrace.Token, secretHash string, now func() time.Time) (int64, error) {
	if err := checkNewToken(t, secretHash); err != nil {
		return 0, err
	}
	if t.CreatedAt.IsZero() {
		return now().UnixMilli(), nil
	}
	return t.CreatedAt.UnixMilli(), nil
}

// checkNewToken refuses a token record with an empty field or an unknown scope, with an
// error wrapping agenttrace.ErrInvalid.
func checkNewToken(t agenttrace.Token, secretHash string) error {
	switch {
	case t.ID == "" || t.Name == "" || secretHash == "":
		return fmt.Errorf("%w: id, name and secret hash are required", agenttrace.ErrInvalid)
	case !knownScope(t.Scope):
		return fmt.Errorf("%w: unknown scope %q", agenttrace.ErrInvalid, t.Scope)
	case t.Scope == agenttrace.ScopeReadOwn && t.User == "":
		return fmt.Errorf("%w: a read:own token needs a user", agenttrace.ErrInvalid)
	case t.Scope == agenttrace.ScopeReadTeam && t.Team == "":
		return fmt.Errorf("%w: a read:team token needs a team", agenttrace.ErrInvalid)
	case t.Team != "" && t.User == "":
		return fmt.Errorf("%w: a token with a team needs a user", agenttrace.ErrInvalid)
	}
	return nil
}

func knownScope(scope string) bool {
	switch scope {
	case agenttrace.ScopeIngest, agenttrace.ScopeRead, agenttrace.ScopeReadOwn, agenttrace.ScopeReadTeam,
		agenttrace.ScopeReadAll, agenttrace.ScopeAdmin:
		return true
	}
	return false
}

// TokenCols are the columns ScanToken reads, in its order.
const TokenCols = `id, name, scope, created_ms, last_used_ms, revoked_ms, user_name, team`

// InsertToken is the statement that stores a new token, with "?" placeholders, and
// TokenArgs its arguments.
const InsertToken = `INSERT INTO tokens (id, name, scope, secret_hash, created_ms, user_name, team) VALUES (?, ?, ?, ?, ?, ?, ?)`

// TokenArgs are InsertToken's arguments.
func TokenArgs(t agenttrace.Token, secretHash string, createdMS int64) []any {
	return []any{t.ID, t.Name, t.Scope, secretHash, createdMS, t.User, t.Team}
}

// ScanToken reads a row of TokenCols, from database/sql or pgx alike.
func ScanToken(sc interface{ Scan(...any) error }) (agenttrace.Token, error) {
	var t agenttrace.Token
	var created int64
	var used, revoked *int64
	if err := sc.Scan(&t.ID, &t.Name, &t.Scope, &created, &used, &revoked, &t.User, &t.Team); err != nil {
		return t, err
	}
	t.CreatedAt = time.UnixMilli(created).UTC()
	if used != nil {
		u := time.UnixMilli(*used).UTC()
		t.LastUsedAt = &u
	}
	if revoked != nil {
		r := time.UnixMilli(*revoked).UTC()
		t.RevokedAt = &r
	}
	return t, nil
}

// GroupColumn is the usage column DailyCost groups by for a agenttrace.GroupBy* value;
// userCol is the user column as the dialect quotes it. Others are agenttrace.ErrInvalid.
func GroupColumn(groupBy, userCol string) (string, error) {
	switch groupBy {
	case agenttrace.GroupBySession:
		return "session_id", nil
	case agenttrace.GroupByModel:
		return "model", nil
	case agenttrace.GroupByUser:
		return userCol, nil
	case agenttrace.GroupByRepo:
		return "repo", nil
	}
	return "", fmt.Errorf("%w: unknown group_by %q", agenttrace.ErrInvalid, groupBy)
}
