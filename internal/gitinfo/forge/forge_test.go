package forge_test

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/gitinfo/forge"
)

func gh(owner, repo string, n int, url string) event.PullRequest {
	return event.PullRequest{URL: url, Forge: forge.GitHub, Owner: owner, Repo: repo, Number: n}
}

func TestFind(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []event.PullRequest
	}{
		{"gh pr create output",
			"Creating pull request for feature into main in acme/widgets\n\nhttps://github.com/acme/widgets/pull/123\n",
			[]event.PullRequest{gh("acme", "widgets", 123, "https://github.com/acme/widgets/pull/123")}},
		{"gh pr view output",
			"title:\tAdd greeting\nstate:\tOPEN\nnumber:\t7\nurl:\thttps://github.com/acme/widgets/pull/7\n--\nbody",
			[]event.PullRequest{gh("acme", "widgets", 7, "https://github.com/acme/widgets/pull/7")}},
		{"markdown link",
			"Opened [#12](https://github.com/o/r/pull/12).",
			[]event.PullRequest{gh("o", "r", 12, "https://github.com/o/r/pull/12")}},
		{"trailing dot",
			"See https://github.com/o/r/pull/5.",
			[]event.PullRequest{gh("o", "r", 5, "https://github.com/o/r/pull/5")}},
		{"in parentheses",
			"(https://github.com/o/r/pull/6)",
			[]event.PullRequest{gh("o", "r", 6, "https://github.com/o/r/pull/6")}},
		{"angle brackets and bold",
			"<https://github.com/o/r/pull/8> **https://github.com/o/r/pull/9**",
			[]event.PullRequest{gh("o", "r", 8, "https://github.com/o/r/pull/8"), gh("o", "r", 9, "https://github.com/o/r/pull/9")}},
		{"fragment, query and sub-page cut",
			"https://github.com/o/r/pull/10#issuecomment-1 https://github.com/o/r/pull/11/files?w=1",
			[]event.PullRequest{gh("o", "r", 10, "https://github.com/o/r/pull/10"), gh("o", "r", 11, "https://github.com/o/r/pull/11")}},
		{"deduplicated in order",
			"https://github.com/o/r/pull/2 then https://github.com/o/r/pull/1 and again https://github.com/o/r/pull/2#top",
			[]event.PullRequest{gh("o", "r", 2, "https://github.com/o/r/pull/2"), gh("o", "r", 1, "https://github.com/o/r/pull/1")}},
		{"host case folded",
			"HTTPS://GitHub.com/Acme/Widgets/pull/3",
			[]event.PullRequest{gh("Acme", "Widgets", 3, "https://github.com/Acme/Widgets/pull/3")}},
		{"dots and dashes in names",
			"https://github.com/my-org/my.repo_x/pull/44",
			[]event.PullRequest{gh("my-org", "my.repo_x", 44, "https://github.com/my-org/my.repo_x/pull/44")}},
		{"github enterprise",
			"https://github.corp.example:8443/team/svc/pull/99",
			[]event.PullRequest{gh("team", "svc", 99, "https://github.corp.example:8443/team/svc/pull/99")}},
		{"gitlab merge request",
			"View merge request: https://gitlab.com/acme/widgets/-/merge_requests/17",
			[]event.PullRequest{{URL: "https://gitlab.com/acme/widgets/-/merge_requests/17", Forge: forge.GitLab, Owner: "acme", Repo: "widgets", Number: 17}}},
		{"gitlab nested groups, self-hosted",
			"remote:   https://git.example.com/platform/infra/tools/deployer/-/merge_requests/321\nremote:",
			[]event.PullRequest{{URL: "https://git.example.com/platform/infra/tools/deployer/-/merge_requests/321", Forge: forge.GitLab, Owner: "platform/infra/tools", Repo: "deployer", Number: 321}}},
		{"bitbucket cloud",
			"https://bitbucket.org/team/app/pull-requests/4/overview",
			[]event.PullRequest{{URL: "https://bitbucket.org/team/app/pull-requests/4", Forge: forge.Bitbucket, Owner: "team", Repo: "app", Number: 4}}},
		{"bitbucket server",
			"https://bitbucket.example.com/projects/KEY/repos/app/pull-requests/15",
			[]event.PullRequest{{URL: "https://bitbucket.example.com/projects/KEY/repos/app/pull-requests/15", Forge: forge.Bitbucket, Owner: "KEY", Repo: "app", Number: 15}}},
		{"mixed forges in order",
			"gl https://gitlab.com/g/p/-/merge_requests/2 gh https://github.com/o/r/pull/1",
			[]event.PullRequest{
				{URL: "https://gitlab.com/g/p/-/merge_requests/2", Forge: forge.GitLab, Owner: "g", Repo: "p", Number: 2},
				gh("o", "r", 1, "https://github.com/o/r/pull/1"),
			}},
		{"issue urls not matched",
			"https://github.com/o/r/issues/12 https://gitlab.com/g/p/-/issues/3 https://github.com/o/r/pull/new/feature", nil},
		{"push hint for a new PR not matched",
			"remote: Create a pull request for 'feature' on GitHub by visiting:\nremote:      https://github.com/o/r/pull/new/feature\n", nil},
		{"non-numeric tail not matched",
			"https://github.com/o/r/pull/12abc https://github.com/o/r/pull/0", nil},
		{"no url", "nothing to commit, working tree clean", nil},
		{"incomplete path", "https://github.com/o/pull/12", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := forge.Find(tt.text)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Find(%q)\n got %+v\nwant %+v", tt.text, got, tt.want)
			}
		})
	}
}

// TestFindFixture reads the PostToolUse payload Claude Code 2.1.332 sent for `gh pr create`.
func TestFindFixture(t *testing.T) {
	raw, err := os.ReadFile("testdata/pull-request-posttooluse.json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		ToolResponse struct {
			Stdout string `json:"stdout"`
		} `json:"tool_response"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	got := forge.Find(p.ToolResponse.Stdout)
	want := []event.PullRequest{gh("example", "demo", 42, "https://github.com/example/demo/pull/42")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Find(fixture stdout) = %+v, want %+v", got, want)
	}
}

func BenchmarkFind(b *testing.B) {
	text := "Enumerating objects: 5, done.\nremote: Resolving deltas: 100% (1/1)\n" +
		"To github.com:acme/widgets.git\n * [new branch] feature -> feature\n" +
		"https://github.com/acme/widgets/pull/123\n"
	for b.Loop() {
		if len(forge.Find(text)) != 1 {
			b.Fatal("no match")
		}
	}
}

// FuzzFind checks that every match is well formed and really occurs in the text.
func FuzzFind(f *testing.F) {
	for _, s := range []string{
		"https://github.com/o/r/pull/1", "https://gitlab.com/a/b/c/-/merge_requests/2).",
		"https://bitbucket.org/t/a/pull-requests/3", "https://h/projects/K/repos/r/pull-requests/4",
		"HTTP://X/y/z/pull/05#x", "https://github.com/o/r/issues/1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		seen := map[string]bool{}
		for _, pr := range forge.Find(text) {
			if pr.Number <= 0 || pr.Owner == "" || pr.Repo == "" || pr.URL == "" {
				t.Fatalf("malformed %+v from %q", pr, text)
			}
			if seen[pr.URL] {
				t.Fatalf("duplicate %s from %q", pr.URL, text)
			}
			seen[pr.URL] = true
			if !strings.Contains(strings.ToLower(text), strings.ToLower(pr.URL)) {
				t.Fatalf("URL %s not in text %q", pr.URL, text)
			}
		}
	})
}
