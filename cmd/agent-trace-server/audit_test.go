package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// The commands that change tokens and users leave entries by "cli"; a running server
// audits requests refused at the API, the OTLP receiver and the dashboard, and writes
// the counts on shutdown; audit list shows them all.
func TestCommandsAndDenialsAreAudited(t *testing.T) {
	db := filepath.Join(t.TempDir(), "data.db")
	for _, args := range [][]string{
		{"token", "create", "--db", db, "--name", "root", "--scope", "admin", "--user", "root"},
		{"token", "create", "--db", db, "--name", "reader", "--scope", "read"},
		{"user", "create", "--db", db, "bob", "--team", "a"},
		{"user", "disable", "--db", db, "bob"},
	} {
		if _, err := run(t, args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	list, _ := run(t, "token", "list", "--db", db)
	var readerID string
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "reader" {
			readerID = f[0]
		}
	}
	if _, err := run(t, "token", "revoke", "--db", db, readerID); err != nil {
		t.Fatal(err)
	}

	srv := mustStart(t, db)
	do := func(method, url string) int {
		req, _ := http.NewRequest(method, url, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 5 {
		if got := do(http.MethodGet, srv.URL("api")+"/v1/sessions"); got != 401 {
			t.Fatalf("API without a token: %d", got)
		}
	}
	if got := do(http.MethodPost, srv.URL("collector")+"/v1/logs"); got != 401 {
		t.Fatalf("OTLP/HTTP without a token: %d", got)
	}
	if got := do(http.MethodGet, srv.URL("dashboard")+"/costs"); got != http.StatusSeeOther {
		t.Fatalf("dashboard without a login: %d", got)
	}
	srv.stop(t) // writes the counts of refused requests

	out, err := run(t, "audit", "list", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"cli (", "token.create", "user.create root ok 1 - team -, with a token", "token.revoke  " + readerID, "user.create   bob", "user.disable  bob",
		"request.denied  GET /v1/sessions  denied   5", "request.denied  otlp ingest", "request.denied  dashboard /costs",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("audit list lacks %q:\n%s", want, out)
		}
	}
	if out, _ := run(t, "audit", "list", "--db", db, "--action", "user.disable"); strings.Count(out, "\n") != 2 {
		t.Errorf("audit list --action user.disable:\n%s", out)
	}
}
