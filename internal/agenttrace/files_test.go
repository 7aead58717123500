package agenttrace

import (
	"strings"
	"testing"
)

func TestPathMatches(t *testing.T) {
	tests := []struct {
		stored, query string
		want          bool
	}{
		{"/home/me/repo/internal/store.go", "/home/me/repo/internal/store.go", true},
		{"/home/me/repo/internal/store.go", "store.go", true},
		{"/home/me/repo/internal/store.go", "internal/store.go", true},
		{"/home/me/repo/internal/store.go", "./internal/store.go", true},
		{"/home/me/repo/internal/store.go", "tore.go", false},
		{"/home/me/repo/internal/store.go", "Store.go", false},
		{"internal/store.go", "internal/store.go", true},
		{"internal/store.go", "", false},
	}
	for _, tc := range tests {
		if got := PathMatches(tc.stored, tc.query); got != tc.want {
			t.Errorf("PathMatches(%q, %q) = %v, want %v", tc.stored, tc.query, got, tc.want)
		}
	}
}

func TestValidSHAPrefix(t *testing.T) {
	tests := []struct {
		sha  string
		want bool
	}{
		{"f5e6", true},
		{"F5E602FD", true},
		{strings.Repeat("a", 40), true},
		{"f5e", false},
		{strings.Repeat("a", 41), false},
		{"f5e6%", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := ValidSHAPrefix(tc.sha); got != tc.want {
			t.Errorf("ValidSHAPrefix(%q) = %v, want %v", tc.sha, got, tc.want)
		}
	}
}

func TestTouchedFiles(t *testing.T) {
	s := &Session{
		Prompts: []Prompt{{ToolCalls: []ToolCall{
			{FilePath: "/r/b.go"},
			{Name: "Agent", Children: []ToolCall{{FilePath: "/r/a.go"}, {FilePath: "/r/b.go"}}},
			{Name: "Bash"},
		}}},
		Commits: []Commit{{Files: []string{"b.go", ""}}},
	}
	got, want := strings.Join(TouchedFiles(s), ","), "/r/a.go,/r/b.go,b.go"
	if got != want {
		t.Errorf("TouchedFiles = %s, want %s", got, want)
	}
}
