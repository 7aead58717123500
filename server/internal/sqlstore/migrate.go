package sqlstore

import (
	"io/fs"
	"sort"
	"strings"
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
