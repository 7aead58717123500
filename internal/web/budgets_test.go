package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/auth"
)

func TestBarClass(t *testing.T) {
	for _, tt := range []struct {
		pct  float64
		want string
	}{{0, "p0 ok"}, {42.4, "p40 ok"}, {80, "p80 warn"}, {99.9, "p95 warn"}, {100, "p100 over"}, {250, "p100 over"}} {
		if got := barClass(tt.pct); got != tt.want {
			t.Errorf("barClass(%v) = %q, want %q", tt.pct, got, tt.want)
		}
	}
}

func postForm(h http.Handler, path string, form url.Values, origin string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", origin)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestCostsBudgets: an admin adds a budget from the Costs page, which then shows its
// burn; a cross-site post and a reader's post are refused, and a reader sees no form.
func TestCostsBudgets(t *testing.T) {
	st := mustEmptyStore(t)
	now := time.Now().UTC()
	mustIngest(t, st, []event.Event{{ID: "u1", Kind: event.KindUsage, SessionID: "s1", Time: now, Tier: event.TierFull, User: "ada",
		Usage: &event.Usage{MessageID: "m1", RequestID: "r1", Model: "claude-opus-5-5", OutputTokens: 1000}}})
	h := mustHandler(t, st)
	form := url.Values{"scope_kind": {"user"}, "scope_value": {"ada"}, "period": {"monthly"}, "limit_usd": {"1"},
		"webhook_url": {"https://hooks.example/secret-path"}, "format": {"slack"}}
	if w := postForm(h, "/costs/budgets", form, "https://evil.example"); w.Code != http.StatusForbidden {
		t.Errorf("cross-site post = %d, want 403", w.Code)
	}
	if w := postForm(h, "/costs/budgets", form, "http://example.com"); w.Code != http.StatusSeeOther {
		t.Fatalf("admin post = %d: %s", w.Code, w.Body)
	}
	list, err := st.Budgets(context.Background())
	if err != nil || len(list) != 1 || list[0].ScopeValue != "ada" || list[0].Format != agenttrace.FormatSlack {
		t.Fatalf("budgets = %+v, %v", list, err)
	}
	_, doc := mustGet(t, h, "/costs")
	if bars := query(doc, "#budgets .burn .fill"); len(bars) != 1 {
		t.Fatalf("burn bars = %d, want 1", len(bars))
	}
	if forms := query(doc, "form.budget-form"); len(forms) != 1 {
		t.Errorf("admin sees %d budget forms, want 1", len(forms))
	}

	reader := &agenttrace.Token{ID: "tok_r", Scope: agenttrace.ScopeRead}
	rh, err := New(Options{Store: st, Authenticate: func(r *http.Request) (context.Context, error) {
		return auth.WithToken(r.Context(), reader), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, doc = mustGet(t, rh, "/costs")
	if forms := query(doc, "form.budget-form"); len(forms) != 0 {
		t.Errorf("reader sees a budget form")
	}
	if cells := query(doc, `#budgets td[data-label=Webhook]`); len(cells) != 1 || strings.Contains(text(cells[0]), "secret") {
		t.Errorf("reader's webhook cell shows the secret path")
	}
	if w := postForm(rh, "/costs/budgets/"+list[0].ID+"/delete", nil, "http://example.com"); w.Code != http.StatusForbidden {
		t.Errorf("reader delete = %d, want 403", w.Code)
	}
	if w := postForm(h, "/costs/budgets/"+list[0].ID+"/delete", nil, "http://example.com"); w.Code != http.StatusSeeOther {
		t.Errorf("admin delete = %d, want 303", w.Code)
	}
}
