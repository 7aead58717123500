package sqlstore

import (
	"errors"
	"testing"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

func TestPageLimit(t *testing.T) {
	for _, tc := range []struct {
		limit, want int
		invalid     bool
	}{
		{0, 50, false}, {1, 1, false}, {200, 200, false}, {201, 0, true}, {-1, 0, true},
	} {
		got, err := PageLimit(tc.limit, DefaultLimit, MaxLimit)
		if got != tc.want || errors.Is(err, agenttrace.ErrInvalid) != tc.invalid {
			t.Errorf("PageLimit(%d) = %d, %v; want %d, invalid %v", tc.limit, got, err, tc.want, tc.invalid)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	k, isFloat := KeyString(0.1 + 0.2)
	c := Cursor{Sort: "cost", Desc: true, Key: k, Float: isFloat, IDs: []string{"s1"}}
	got, err := DecodeCursor(c.Encode(), 1)
	if err != nil {
		t.Fatal(err)
	}
	v, err := got.KeyValue(FloatKey)
	if err != nil || v != 0.1+0.2 || got.Sort != "cost" || !got.Desc || got.IDs[0] != "s1" {
		t.Fatalf("round trip = %+v, key %v, %v", got, v, err)
	}
	if _, err := got.KeyValue(IntKey); !errors.Is(err, agenttrace.ErrInvalid) {
		t.Errorf("float key read as int: err %v, want ErrInvalid", err)
	}
	if v, err := got.KeyValue(AnyKey); err != nil || v != 0.1+0.2 {
		t.Errorf("AnyKey = %v, %v", v, err)
	}
	n, err := IntCursor(42, "a", "b").KeyValue(IntKey)
	if err != nil || n != int64(42) {
		t.Errorf("IntCursor key = %v, %v", n, err)
	}
}

func TestDecodeCursorMalformed(t *testing.T) {
	for _, s := range []string{"!!", "bm90IGpzb24", Cursor{Key: "1", IDs: []string{"a", "b"}}.Encode()} {
		if _, err := DecodeCursor(s, 1); !errors.Is(err, agenttrace.ErrInvalid) {
			t.Errorf("DecodeCursor(%q) err = %v, want ErrInvalid", s, err)
		}
	}
}

func TestEscapeLike(t *testing.T) {
	if got, want := EscapeLike(`50%_a\b`), `50\%\_a\\b`; got != want {
		t.Errorf("EscapeLike = %q, want %q", got, want)
	}
}
