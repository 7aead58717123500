// Package sqlstoretest holds the test helpers the SQL stores' tests share.
package sqlstoretest

import (
	"context"
	"testing"
)

// Store is what Migrated needs of a store.
type Store interface {
	Close() error
	Migrate(ctx context.Context) error
}

// Migrated takes a store just opened (and the error of opening it), fails tb on that
// error, closes the store when the test ends and migrates it.
func Migrated[S Store](tb testing.TB, s S, err error) S {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return s
}
