package sqlstore

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
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

func TestCheckApplied(t *testing.T) {
	names := []string{"0001_a.sql", "0002_b.sql"}
	err := CheckApplied("db.sqlite", names, map[string]bool{"0001_a.sql": true})
	if !errors.Is(err, agenttrace.ErrSchemaOutdated) || !strings.Contains(err.Error(), "db.sqlite lacks migrations 0002_b.sql") {
		t.Errorf("err = %v, want ErrSchemaOutdated naming db.sqlite and 0002_b.sql", err)
	}
	if err := CheckApplied("db", names, map[string]bool{"0001_a.sql": true, "0002_b.sql": true}); err != nil {
		t.Errorf("all applied: err = %v", err)
	}
}
