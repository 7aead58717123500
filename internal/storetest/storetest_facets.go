package storetest

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
)

// testFacetsFollowSmallBatches: sessions that reach the store a few events at a time, as a
// live deliverer sends them, gain their files, models and branches batch by batch (a
// store may write only what changed in them). Every filter on them then lists exactly the
// sessions a projection of all their events says it should.
func testFacetsFollowSmallBatches(t *testing.T, s agenttrace.Store) {
	want := map[string]*agenttrace.Session{}
	sessions := Generate(23, 4, 60)
	for _, evs := range sessions {
		for i := range evs {
			if c := evs[i].Commit; c != nil { // a file only a commit names
				c.Files = append(c.Files, "docs/commit-"+c.SHA[len(c.SHA)-8:]+".md")
			}
		}
	}
	for _, f := range Fixtures() {
		sessions = append(sessions, f.Events)
	}
	for _, evs := range sessions {
		want[evs[0].SessionID] = projection.Project(evs, TestPricer{})
		for off := 0; off < len(evs); off += 3 {
			MustIngest(t, s, evs[off:min(off+3, len(evs))])
		}
	}
	checkFacets(t, s, want, "after small batches")
	// A store that can rebuild every projection (new rules or prices) writes them whole.
	if r, ok := s.(interface {
		ReprojectAll(context.Context) (int, error)
	}); ok {
		if _, err := r.ReprojectAll(ctx(t)); err != nil {
			t.Fatal(err)
		}
		checkFacets(t, s, want, "after ReprojectAll")
	}
}

// checkFacets fails unless every facet filter lists exactly the sessions want says.
func checkFacets(t *testing.T, s agenttrace.Store, want map[string]*agenttrace.Session, when string) {
	t.Helper()
	for _, c := range facetFilters(want) {
		var got []string
		for _, row := range listAll(t, s, c.filter) {
			got = append(got, row.ID)
		}
		sort.Strings(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s, %s: got sessions %v, want %v", when, c.name, got, c.want)
		}
	}
}

type facetFilter struct {
	name   string
	filter agenttrace.SessionFilter
	want   []string // session IDs, sorted
}

// facetFilters is a filter for every file, model and branch of the sessions, with the
// sessions each must list.
func facetFilters(sessions map[string]*agenttrace.Session) []facetFilter {
	byValue := map[string]map[string]bool{} // "kind=value" → session IDs
	add := func(key, id string) {
		if byValue[key] == nil {
			byValue[key] = map[string]bool{}
		}
		byValue[key][id] = true
	}
	files := map[string]bool{}
	for id, sess := range sessions {
		for _, m := range sess.Models {
			add("model="+m, id)
		}
		for _, b := range append(slices.Clone(sess.Branches), sess.Branch) {
			if b != "" {
				add("branch="+b, id)
			}
		}
		for _, f := range agenttrace.TouchedFiles(sess) {
			files[f] = true
		}
	}
	for f := range files {
		for id, sess := range sessions {
			if slices.ContainsFunc(agenttrace.TouchedFiles(sess), func(p string) bool { return agenttrace.PathMatches(p, f) }) {
				add("file="+f, id)
			}
		}
	}
	var out []facetFilter
	for _, key := range slices.Sorted(maps.Keys(byValue)) {
		c := facetFilter{name: key, want: slices.Sorted(maps.Keys(byValue[key]))}
		kind, value, _ := strings.Cut(key, "=")
		switch kind {
		case "model":
			c.filter.Model = value
		case "branch":
			c.filter.Branch = value
		case "file":
			c.filter.File = value
		}
		out = append(out, c)
	}
	return out
}
