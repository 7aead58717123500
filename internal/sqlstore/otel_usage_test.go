package sqlstore

import (
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// TestOTelUsageFeedsAnalyticsOnce: the usage facts an analytics backend receives count an
// OTel-only request like transcript usage, and a request both report once, in whichever
// order the two arrive: the api_request's row is withdrawn when the transcript claims it.
func TestOTelUsageFeedsAnalyticsOnce(t *testing.T) {
	all := storetest.OTelSession()
	var otelFirst, transcriptFirst []event.Event
	for _, e := range all {
		if e.Kind == event.KindUsage {
			transcriptFirst = append([]event.Event{e}, transcriptFirst...)
			continue
		}
		otelFirst = append(otelFirst, e)
		transcriptFirst = append(transcriptFirst, e)
	}
	tests := []struct {
		name    string
		batches [][]event.Event
	}{
		{"otel then transcript", [][]event.Event{otelFirst, all[3:4]}},
		{"transcript then otel", [][]event.Event{transcriptFirst[:1], transcriptFirst[1:]}},
		{"one batch", [][]event.Event{all}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := projection.New(storetest.TestPricer{})
			prior := map[string]UsageFact{}
			var got agenttrace.Usage
			for i, b := range tt.batches {
				pr.Add(b...)
				w, err := NewSessionWrite(storetest.OTelSessionID, pr.Delta(), nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range w.UsageDiff(prior, uint64(i+1)) {
					if c.Old != nil {
						got = got.Add(negate(c.Old.Usage))
					}
					if c.New != nil {
						got = got.Add(c.New.Usage)
					}
				}
			}
			want := projection.Project(all, storetest.TestPricer{}).Usage
			if got != want || len(prior) != 2 {
				t.Errorf("analytics usage %+v over %d facts, want the session's %+v over 2", got, len(prior), want)
			}
		})
	}
}

func negate(u agenttrace.Usage) agenttrace.Usage {
	return agenttrace.Usage{InputTokens: -u.InputTokens, OutputTokens: -u.OutputTokens,
		CacheCreationInputTokens: -u.CacheCreationInputTokens, CacheCreation5mTokens: -u.CacheCreation5mTokens,
		CacheCreation1hTokens: -u.CacheCreation1hTokens, CacheReadInputTokens: -u.CacheReadInputTokens,
		WebSearchRequests: -u.WebSearchRequests}
}
