package sqlite_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/server"
	"github.com/agent-trace/agent-trace/server/sqlite"
	"github.com/agent-trace/agent-trace/server/storetest"
)

// MustOpen opens a migrated store on a fresh file in t.TempDir().
func MustOpen(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(filepath.Join(tb.TempDir(), "data.db"), sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.Migrate(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store { return MustOpen(t) })
}

func TestMigrateIsIdempotentAndCheckSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CheckSchema(t.Context()); !errors.Is(err, server.ErrSchemaOutdated) {
		t.Fatalf("CheckSchema on an empty file = %v, want ErrSchemaOutdated", err)
	}
	if !strings.Contains(fmt.Sprint(s.CheckSchema(t.Context())), "0001_init.sql") {
		t.Errorf("the error should name the missing migration: %v", s.CheckSchema(t.Context()))
	}
	for i := 0; i < 2; i++ {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("migrate #%d: %v", i+1, err)
		}
	}
	if err := s.CheckSchema(t.Context()); err != nil {
		t.Fatalf("CheckSchema after Migrate = %v", err)
	}
	// The data survives reopening.
	f := storetest.Fixtures()[0]
	storetest.MustIngest(t, s, f.Events)
	s.Close()
	s2, err := sqlite.Open(path, sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.CheckSchema(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := storetest.MustSession(t, s2, f.SessionID); got.ID != f.SessionID {
		t.Fatalf("reopened session id %q", got.ID)
	}
}
