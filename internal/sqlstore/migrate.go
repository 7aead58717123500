package sqlstore

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Migrations lists the names of the migrations/*.sql files of fsys in the order they
// apply.
func Migrations(fsys fs.FS) []string {
	names, _ := fs.Glob(fsys, "migrations/*.sql")
	for i, n := range names {
		names[i] = strings.TrimPrefix(n, "migrations/")
	}
	sort.Strings(names)
	return names
}

// Missing lists the names not in applied, in order.
func Missing(names []string, applied map[string]bool) []string {
	var missing []string
	for _, name := range names {
		if !applied[name] {
			missing = append(missing, name)
		}
	}
	return missing
}

// AppliedSet reads a result of one column of applied migration names.
func AppliedSet(rows Rows) (map[string]bool, error) {
	out := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out[name] = true
	}
	return out, rows.Err()
}

// CheckApplied returns an error wrapping agenttrace.ErrSchemaOutdated, naming what (the
// database) and the missing migrations and what to run, when any of names is not in
// applied.
func CheckApplied(what string, names []string, applied map[string]bool) error {
	if missing := Missing(names, applied); len(missing) > 0 {
		return fmt.Errorf("%w: %s lacks migrations %s; run `agent-trace-server migrate`",
			agenttrace.ErrSchemaOutdated, what, strings.Join(missing, ", "))
	}
	return nil
}
