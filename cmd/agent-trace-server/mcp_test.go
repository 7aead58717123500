package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// fixtureDB is a SQLite database holding the recorded sessions.
func fixtureDB(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "data.db")
	s, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, f := range storetest.Fixtures() {
		storetest.MustIngest(t, s, f.Events)
	}
	return db
}

func mcpConnect(t *testing.T, tr sdk.Transport) *sdk.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return cs
}

// findCommit asks for the fixture commit and returns the answer's text.
func findCommit(t *testing.T, cs *sdk.ClientSession) string {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "find_commit",
		Arguments: map[string]any{"sha": storetest.FixtureSHA[:10]}})
	if err != nil {
		t.Fatalf("find_commit: %v", err)
	}
	if res.IsError || len(res.Content) == 0 {
		t.Fatalf("find_commit: error result %+v", res.Content)
	}
	return res.Content[0].(*sdk.TextContent).Text
}

// agent-trace-server mcp serves stdin and stdout until the client goes away.
func TestMCPCommandServesStdio(t *testing.T) {
	db := fixtureDB(t)
	toServer, fromClient := io.Pipe()
	toClient, fromServer := io.Pipe()
	var stderr strings.Builder
	cmd := newRootCommand(fromServer, &stderr)
	cmd.SetIn(toServer)
	cmd.SetArgs([]string{"mcp", "--db", db})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(context.Background()); fromServer.Close() }()

	cs := mcpConnect(t, &sdk.IOTransport{Reader: toClient, Writer: fromClient})
	if got := findCommit(t, cs); !strings.Contains(got, "made in session 02ffe567-4617-41ff-b977-3528b6d21881") {
		t.Errorf("find_commit answered:\n%s", got)
	}
	cs.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("mcp: %v (stderr %s)", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("mcp did not return once the client closed")
	}
}

// bearer adds an Authorization header to every request.
type bearer struct{ secret string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.secret)
	return http.DefaultTransport.RoundTrip(r)
}

// /mcp on the API port answers a read token's client, and no one else once auth is on.
func TestMCPOverHTTPNeedsReadToken(t *testing.T) {
	db := fixtureDB(t)
	read, err := run(t, "token", "create", "--db", db, "--name", "claude", "--scope", "read")
	if err != nil {
		t.Fatal(err)
	}
	ingest, _ := run(t, "token", "create", "--db", db, "--name", "hook", "--scope", "ingest")
	srv := mustStart(t, db)
	endpoint := srv.URL("api") + "/mcp"

	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	tests := []struct {
		name, secret, origin string
		want                 int
	}{
		{"no token", "", "", http.StatusUnauthorized},
		{"ingest token", strings.TrimSpace(ingest), "", http.StatusForbidden},
		{"another site", strings.TrimSpace(read), "https://evil.example", http.StatusForbidden},
		{"read token", strings.TrimSpace(read), "", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", endpoint, strings.NewReader(initialize))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if tc.secret != "" {
				req.Header.Set("Authorization", "Bearer "+tc.secret)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
		})
	}

	cs := mcpConnect(t, &sdk.StreamableClientTransport{Endpoint: endpoint, DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: bearer{strings.TrimSpace(read)}}})
	defer cs.Close()
	if got := findCommit(t, cs); !strings.Contains(got, "02ffe567-4617-41ff-b977-3528b6d21881") {
		t.Errorf("find_commit answered:\n%s", got)
	}
}
