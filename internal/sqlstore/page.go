package sqlstore

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Page sizes, the same on every backend.
const (
	DefaultLimit      = 50
	MaxLimit          = 200
	DefaultEventLimit = 200
	MaxEventLimit     = 1000
)

// PageLimit returns the page size for a requested limit: def for 0, limit when it is in
// [1, max], else an error wrapping agenttrace.ErrInvalid.
func PageLimit(limit, def, max int) (int, error) {
	switch {
	case limit == 0:
		return def, nil
	case limit < 0 || limit > max:
		return 0, fmt.Errorf("%w: limit must be between 1 and %d", agenttrace.ErrInvalid, max)
	}
	return limit, nil
}

// Cursor is the opaque keyset position of the last row of a page: its sort key (an
// integer or a float, kept exact as text) and its unique tie-breakers.
type Cursor struct {
	Sort  string   `json:"s,omitempty"`
	Desc  bool     `json:"d,omitempty"`
	Key   string   `json:"k"`
	Float bool     `json:"f,omitempty"`
	IDs   []string `json:"i"`
}

// Encode returns the cursor as clients see it.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// IntCursor is the cursor of a row whose sort key is the integer key.
func IntCursor(key int64, ids ...string) Cursor {
	return Cursor{Key: strconv.FormatInt(key, 10), IDs: ids}
}

// DecodeCursor parses a cursor that must carry ids tie-breakers. A malformed one is
// agenttrace.ErrInvalid.
func DecodeCursor(s string, ids int) (Cursor, error) {
	var c Cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, errMalformed
	}
	if err := json.Unmarshal(b, &c); err != nil || len(c.IDs) != ids {
		return c, errMalformed
	}
	return c, nil
}

var errMalformed = fmt.Errorf("%w: malformed cursor", agenttrace.ErrInvalid)

// KeyKind is what kind of sort key a caller accepts back from a cursor.
type KeyKind int

const (
	// AnyKey takes the key as the cursor says it is (integer or float).
	AnyKey KeyKind = iota
	// IntKey refuses a float key.
	IntKey
	// FloatKey refuses an integer key.
	FloatKey
)

// KeyValue returns the cursor's sort key as an int64 or a float64, for a query argument.
// A key of another kind than want, or one that does not parse, is agenttrace.ErrInvalid.
func (c Cursor) KeyValue(want KeyKind) (any, error) {
	if want != AnyKey && c.Float != (want == FloatKey) {
		return nil, errMalformed
	}
	if c.Float {
		f, err := strconv.ParseFloat(c.Key, 64)
		if err != nil {
			return nil, errMalformed
		}
		return f, nil
	}
	n, err := strconv.ParseInt(c.Key, 10, 64)
	if err != nil {
		return nil, errMalformed
	}
	return n, nil
}

// KeyString is the exact text of a scanned sort key and whether it is a float.
func KeyString(v any) (string, bool) {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10), false
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	}
	return fmt.Sprint(v), false
}

// Round9 rounds a cost to nine decimals, so sums of many float costs compare equal
// across backends.
func Round9(f float64) float64 { return math.Round(f*1e9) / 1e9 }

// EscapeLike escapes the LIKE wildcards of s for a pattern with ESCAPE '\'.
func EscapeLike(s string) string {
	return likeEscaper.Replace(s)
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Rows is what both database/sql and pgx result sets offer.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// GitPage reads rows of (time_ms, key, session_id, body), newest first, fetched with
// LIMIT limit+1: add gets each body of the page, and the cursor of the next page is
// returned ("" on the last page).
func GitPage(rows Rows, limit int, add func(body []byte) error) (string, error) {
	n := 0
	var last Cursor
	for rows.Next() {
		var ms int64
		var key, sid string
		var body []byte
		if err := rows.Scan(&ms, &key, &sid, &body); err != nil {
			return "", err
		}
		if n == limit {
			return last.Encode(), nil
		}
		if err := add(body); err != nil {
			return "", err
		}
		n++
		last = IntCursor(ms, key, sid)
	}
	return "", rows.Err()
}

// EventPage reads rows of (time_ns, id, body), oldest first, fetched with LIMIT
// limit+1, and returns the page's events and the next page's cursor ("" on the last).
func EventPage(rows Rows, limit int) ([]event.Event, string, error) {
	out := []event.Event{}
	var lastNS int64
	var lastID string
	for rows.Next() {
		var ns int64
		var id string
		var body []byte
		if err := rows.Scan(&ns, &id, &body); err != nil {
			return out, "", err
		}
		if len(out) == limit {
			return out, IntCursor(lastNS, lastID).Encode(), nil
		}
		js, err := DecompressBlob(body)
		if err != nil {
			return out, "", fmt.Errorf("read %s: %w", id, err)
		}
		var e event.Event
		if err := json.Unmarshal(js, &e); err != nil {
			return out, "", fmt.Errorf("decode %s: %w", id, err)
		}
		out = append(out, e)
		lastNS, lastID = ns, id
	}
	return out, "", rows.Err()
}

// SessionPage reads rows of (sort key, id, summary) fetched with LIMIT p.Limit+1 and
// returns the page's summaries and the next page's cursor ("" on the last). keyText
// turns a scanned sort key into its exact text and whether it is a float; idleCutoff is
// the one the query's status filter used (see SessionConds), so the statuses shown agree
// with it.
func (p SessionPlan) SessionPage(rows Rows, keyText func(any) (string, bool), idleCutoff time.Time) ([]agenttrace.SessionSummary, string, error) {
	out := []agenttrace.SessionSummary{}
	var lastKey any
	var lastID string
	for rows.Next() {
		var key any
		var id string
		var body []byte
		if err := rows.Scan(&key, &id, &body); err != nil {
			return out, "", err
		}
		if len(out) == p.Limit {
			ks, isFloat := keyText(lastKey)
			return out, p.Next(ks, isFloat, lastID), nil
		}
		var sum agenttrace.SessionSummary
		if err := json.Unmarshal(body, &sum); err != nil {
			return out, "", fmt.Errorf("decode %s: %w", id, err)
		}
		agenttrace.MarkIdle(&sum, idleCutoff)
		out = append(out, sum)
		lastKey, lastID = key, id
	}
	return out, "", rows.Err()
}
