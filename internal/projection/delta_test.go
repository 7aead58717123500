package projection_test

import (
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// rows is what a store keeps of a session, written from Deltas only: the prompt rows by
// index, the usage rows by event ID, and the commits and PRs.
type rows struct {
	prompts []agenttrace.Prompt
	usage   map[string]agenttrace.PricedUsage
	commits map[string]agenttrace.Commit
	prs     map[string]agenttrace.PullRequest
}

func newRows() rows {
	return rows{usage: map[string]agenttrace.PricedUsage{}, commits: map[string]agenttrace.Commit{},
		prs: map[string]agenttrace.PullRequest{}}
}

// apply writes d the way the SQL stores do.
func (r *rows) apply(d projection.Delta) {
	s := d.Session
	if d.Full {
		*r = newRows()
	}
	if s == nil {
		return
	}
	for _, i := range d.Prompts {
		for len(r.prompts) <= i {
			r.prompts = append(r.prompts, agenttrace.Prompt{})
		}
		r.prompts[i] = s.Prompts[i]
	}
	r.prompts = r.prompts[:len(s.Prompts)]
	for _, u := range d.Usage {
		r.usage[u.EventID] = u
	}
	for _, id := range d.Gone {
		delete(r.usage, id)
	}
	for _, c := range d.Commits {
		r.commits[c.SHA] = c
	}
	for _, p := range d.PullRequests {
		r.prs[fmt.Sprintf("%s/%s#%d", p.Forge, p.Repo, p.Number)] = p
	}
}

// check compares the rows written with a full projection of the same events.
func (r *rows) check(t *testing.T, what string, want *agenttrace.Session, wantU []agenttrace.PricedUsage) {
	t.Helper()
	if !reflect.DeepEqual(r.prompts, want.Prompts) {
		t.Fatalf("%s: prompt rows differ from Project:\n%s", what, jsonDiff(want.Prompts, r.prompts))
	}
	gotU := map[string]agenttrace.PricedUsage{}
	for _, u := range wantU {
		gotU[u.EventID] = u
	}
	if !reflect.DeepEqual(r.usage, gotU) {
		t.Fatalf("%s: usage rows differ from Project:\n%s", what, jsonDiff(gotU, r.usage))
	}
	commits := []agenttrace.Commit{}
	for _, c := range r.commits {
		commits = append(commits, c)
	}
	projection.SortCommits(commits)
	prs := []agenttrace.PullRequest{}
	for _, p := range r.prs {
		prs = append(prs, p)
	}
	projection.SortPullRequests(prs)
	if !reflect.DeepEqual(commits, want.Commits) || !reflect.DeepEqual(prs, want.PullRequests) {
		t.Fatalf("%s: git rows differ from Project:\n%s", what, jsonDiff(want.Commits, commits))
	}
}

// TestDeltaRowsEqualProject: rows written from nothing but Deltas, after random batches
// of shuffled events with copies and siblings, equal a full projection's, the same
// property as TestIncrementalEqualsProject for what a store writes.
func TestDeltaRowsEqualProject(t *testing.T) {
	for name, evs := range propertySessions() {
		seeds := 60
		if len(evs) > 100 || testing.Short() {
			seeds = 10
		}
		t.Run(name, func(t *testing.T) {
			for seed := int64(1); seed <= int64(seeds); seed++ {
				rng := rand.New(rand.NewSource(seed))
				all := append(siblings(rng, evs), copies(rng, evs)...)
				wantS, wantU := projection.ProjectWithUsage(all, storetest.TestPricer{})
				rng.Shuffle(len(all), func(a, b int) { all[a], all[b] = all[b], all[a] })
				pr := projection.New(storetest.TestPricer{})
				r := newRows()
				for _, b := range batches(rng, all) {
					pr.Add(b...)
					if rng.Intn(2) == 0 {
						r.apply(pr.Delta())
					}
				}
				r.apply(pr.Delta())
				r.check(t, "seed "+string(rune('0'+seed%10)), wantS, wantU)
			}
		})
	}
}

// TestLiveSessionStaysIncremental: a session folded in time order, in the small
// batches the deliverer sends, is built from the whole fold once, then only caught up;
// each Delta names only the prompts the batch touched, and the rows written from the
// Deltas equal a full projection.
func TestLiveSessionStaysIncremental(t *testing.T) {
	sessions := map[string][]event.Event{"generated": storetest.Generate(5, 1, 3000)[0]}
	for _, f := range storetest.Fixtures() {
		sessions[f.Name] = f.Events
	}
	// Hooks and OTel as they arrive live, in time order; and with every api_request
	// ahead of its transcript twin, so the transcript takes over requests OTel counted.
	for name, evs := range otelPropertySessions() {
		sessions[name] = evs
		if strings.HasSuffix(name, "+hooks") {
			sessions[name+"/otel-first"] = apiRequestsFirst(evs)
		}
	}
	for name, evs := range sessions {
		t.Run(name, func(t *testing.T) {
			pr := projection.New(storetest.TestPricer{})
			r := newRows()
			maxPrompts := 0
			for off := 0; off < len(evs); off += 5 {
				pr.Add(evs[off:min(off+5, len(evs))]...)
				d := pr.Delta()
				if off > 0 {
					maxPrompts = max(maxPrompts, len(d.Prompts))
				}
				r.apply(d)
			}
			if got := pr.Rebuilds(); got != 1 {
				t.Errorf("built from the whole fold %d times, want once", got)
			}
			if maxPrompts > 3 {
				t.Errorf("a batch of 5 events rewrote %d prompts, want at most 3", maxPrompts)
			}
			s, u := projection.ProjectWithUsage(evs, storetest.TestPricer{})
			r.check(t, name, s, u)
		})
	}
}

// apiRequestsFirst is evs in time order with every api_request 1 ms earlier than it
// was, ahead of the transcript usage of the same request.
func apiRequestsFirst(evs []event.Event) []event.Event {
	out := append([]event.Event(nil), evs...)
	for i := range out {
		if out[i].Kind == event.KindAPIRequest {
			out[i].Time = out[i].Time.Add(-time.Millisecond)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}
