package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/api"
	"github.com/agent-trace/agent-trace/internal/auth"
)

// TestBudgetsAPI: admins create and delete budgets, readers list them with their spend
// but see webhook URLs (which carry secrets) cut to the host, bad budgets are 422.
func TestBudgetsAPI(t *testing.T) {
	e := mustEnv(t, api.Options{Auth: true})
	bearer := map[string]string{}
	for _, scope := range []string{agenttrace.ScopeRead, agenttrace.ScopeAdmin} {
		secret, err := auth.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.CreateToken(context.Background(), agenttrace.Token{ID: "tok_" + scope, Name: scope, Scope: scope, CreatedAt: time.Now()},
			auth.HashSecret(secret)); err != nil {
			t.Fatal(err)
		}
		bearer[scope] = "Authorization: Bearer " + secret
	}
	body := map[string]any{"scope_kind": "user", "scope_value": "ada", "period": "daily", "limit_usd": 5,
		"webhook_url": "https://hooks.slack.com/services/T0/B0/secret", "format": "slack"}
	if resp := e.http.Post("/v1/budgets", bearer[agenttrace.ScopeRead], body); resp.Code != http.StatusForbidden {
		t.Errorf("create as reader = %d, want 403", resp.Code)
	}
	resp := e.http.Post("/v1/budgets", bearer[agenttrace.ScopeAdmin], body)
	if resp.Code != http.StatusCreated {
		t.Fatalf("create = %d: %s", resp.Code, resp.Body)
	}
	created := decode[agenttrace.Budget](t, resp.Body.Bytes())
	for _, bad := range []map[string]any{
		{"scope_kind": "all", "period": "daily", "limit_usd": 5, "webhook_url": "ftp://x/y"},
		{"scope_kind": "user", "period": "daily", "limit_usd": 5, "webhook_url": "https://x/y"},
		{"scope_kind": "all", "period": "weekly", "limit_usd": 5, "webhook_url": "https://x/y"},
	} {
		if resp := e.http.Post("/v1/budgets", bearer[agenttrace.ScopeAdmin], bad); resp.Code != http.StatusUnprocessableEntity {
			t.Errorf("create %v = %d, want 422", bad, resp.Code)
		}
	}
	type list struct {
		Budgets []struct {
			agenttrace.Budget
			PeriodStart string   `json:"period_start"`
			SpendUSD    *float64 `json:"spend_usd"`
		} `json:"budgets"`
	}
	for scope, wantURL := range map[string]string{agenttrace.ScopeRead: "https://hooks.slack.com/…", agenttrace.ScopeAdmin: body["webhook_url"].(string)} {
		resp := e.http.Get("/v1/budgets", bearer[scope])
		got := decode[list](t, resp.Body.Bytes())
		if resp.Code != 200 || len(got.Budgets) != 1 || got.Budgets[0].ID != created.ID || got.Budgets[0].WebhookURL != wantURL ||
			got.Budgets[0].SpendUSD == nil || got.Budgets[0].PeriodStart != time.Now().UTC().Format("2006-01-02") {
			t.Errorf("list as %s = %d %s", scope, resp.Code, resp.Body)
		}
	}
	if resp := e.http.Delete("/v1/budgets/"+created.ID, bearer[agenttrace.ScopeRead]); resp.Code != http.StatusForbidden {
		t.Errorf("delete as reader = %d, want 403", resp.Code)
	}
	if resp := e.http.Delete("/v1/budgets/"+created.ID, bearer[agenttrace.ScopeAdmin]); resp.Code != http.StatusNoContent {
		t.Errorf("delete = %d, want 204", resp.Code)
	}
	if resp := e.http.Delete("/v1/budgets/"+created.ID, bearer[agenttrace.ScopeAdmin]); resp.Code != http.StatusNotFound {
		t.Errorf("second delete = %d, want 404", resp.Code)
	}
	if resp := e.http.Get("/openapi.json"); !strings.Contains(resp.Body.String(), `"/v1/budgets/{id}"`) {
		t.Errorf("openapi.json (%d) lacks /v1/budgets", resp.Code)
	}
}
