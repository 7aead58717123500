package postgres_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/storetest"
	"github.com/agent-trace/agent-trace/internal/worker"
)

// TestBudgetAlertsOnceAcrossReplicas: three servers' budgets workers on one PostgreSQL
// database checking at the same moments fire each threshold once between them.
func TestBudgetAlertsOnceAcrossReplicas(t *testing.T) {
	var posts atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { posts.Add(1) }))
	defer recv.Close()
	dsn := freshDatabase(t)
	replicas := []*worker.Budgets{}
	var first agenttrace.Store
	for i := range 3 {
		s := openPostgres(t, dsn)
		if i == 0 {
			first = s
		}
		replicas = append(replicas, worker.NewBudgets(s, worker.BudgetsConfig{}))
	}
	ctx := context.Background()
	if _, err := first.CreateBudget(ctx, agenttrace.Budget{ScopeKind: agenttrace.ScopeKindAll, Period: agenttrace.PeriodDaily,
		LimitUSD: 1, WebhookURL: recv.URL}); err != nil {
		t.Fatal(err)
	}
	storetest.MustIngest(t, first, []event.Event{{ID: "u1", Kind: event.KindUsage, SessionID: "s1", Time: time.Now().UTC(),
		Tier: event.TierFull, User: "ada", Usage: &event.Usage{MessageID: "m1", RequestID: "r1", Model: "claude-opus-5-5", OutputTokens: 60_000}}})
	for range 3 {
		var wg sync.WaitGroup
		for _, w := range replicas {
			wg.Go(func() {
				if err := w.Check(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if got, want := posts.Load(), int32(2); got != want { // 80 % and 100 %
		t.Errorf("webhook posts = %d, want %d", got, want)
	}
}
