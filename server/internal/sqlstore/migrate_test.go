package sqlstore

import (
	"reflect"
	"testing"
	"testing/fstest"
)

func TestMigrations(t *testing.T) {
	fsys := fstest.MapFS{
		"migrations/0002_b.sql": {}, "migrations/0001_a.sql": {}, "migrations/README": {}, "other.sql": {},
	}
	names := Migrations(fsys)
	if want := []string{"0001_a.sql", "0002_b.sql"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("Migrations = %v, want %v", names, want)
	}
	if got, want := Missing(names, map[string]bool{"0001_a.sql": true}), []string{"0002_b.sql"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Missing = %v, want %v", got, want)
	}
	if got := Missing(names, map[string]bool{"0001_a.sql": true, "0002_b.sql": true}); got != nil {
		t.Errorf("Missing with all applied = %v, want nil", got)
	}
}
