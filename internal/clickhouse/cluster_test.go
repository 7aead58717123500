package clickhouse_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/clickhouse"
)

// clusterLayout is the test cluster, or a skip (a fatal error in CI) without one.
func clusterLayout(t *testing.T) layout {
	t.Helper()
	for _, l := range layouts(t) {
		if l.cluster != "" {
			return l
		}
	}
	t.Skip("no ClickHouse cluster: scripts/test-services.sh starts one")
	return layout{}
}

// On a cluster, rows go to both shards by their key, every shard's local table is
// Replicated, an erasure reaches every shard, and a host that is down in the URL is
// passed over.
func TestClusterShardsAndErases(t *testing.T) {
	l := clusterLayout(t)
	s := open(t, l, clickhouse.Options{})
	day := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC).UnixMilli()
	var rows []clickhouse.EventRow
	for i := range 200 {
		rows = append(rows, clickhouse.EventRow{ID: fmt.Sprintf("e%03d", i), SessionID: fmt.Sprintf("s%d", i%4),
			Kind: "hook", TimeMS: day, Body: []byte("{}")})
	}
	if err := s.Write(t.Context(), rows, nil); err != nil {
		t.Fatal(err)
	}
	hosts := strings.Split(mustURL(t, l.url).Host, ",")
	if len(hosts) < 2 {
		t.Fatalf("cluster url %s: want two hosts", l.url)
	}
	total := 0
	for _, h := range hosts {
		node := nodeStore(t, h, s.Database())
		var n uint64
		if err := node.Conn().QueryRow(t.Context(), "SELECT count() FROM `"+s.Database()+"`.events_local").Scan(&n); err != nil {
			t.Fatal(err)
		}
		var engine string
		if err := node.Conn().QueryRow(t.Context(), "SELECT engine FROM system.tables WHERE database = ? AND name = 'events_local'",
			s.Database()).Scan(&engine); err != nil {
			t.Fatal(err)
		}
		if engine != "ReplicatedReplacingMergeTree" {
			t.Errorf("%s: events_local engine %s, want ReplicatedReplacingMergeTree", h, engine)
		}
		if n == 0 || n == 200 {
			t.Errorf("%s holds %d of the 200 events: want them spread over both shards", h, n)
		}
		total += int(n)
	}
	if total != 200 {
		t.Errorf("the shards hold %d events, want 200", total)
	}
	if err := s.EraseSessions(t.Context(), []string{"s0", "s1"}); err != nil {
		t.Fatal(err)
	}
	counts, err := s.DailyCounts(t.Context(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts[0].Events != 100 {
		t.Errorf("after erasing two of four sessions: %+v, want 100 events", counts)
	}
	// Failover: the first host refuses connections.
	u := mustURL(t, l.url)
	u.Host = "127.0.0.1:1," + u.Host
	u.Path = "/" + s.Database()
	f, err := clickhouse.Open(t.Context(), u.String(), clickhouse.Options{Cluster: l.cluster})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Ready(t.Context()); err != nil {
		t.Errorf("Ready with the first host down: %v", err)
	}
}

// A database made on the cluster is refused as one server's, and the other way round,
// with an error that says what to do.
func TestClusterLayoutMismatch(t *testing.T) {
	l := clusterLayout(t)
	s := open(t, l, clickhouse.Options{})
	u := mustURL(t, l.url)
	u.Path = "/" + s.Database()
	plain, err := clickhouse.Open(t.Context(), u.String(), clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.CheckSchema(t.Context()); err == nil || !strings.Contains(err.Error(), "--clickhouse-cluster") {
		t.Errorf("CheckSchema of a cluster database without the cluster: %v, want an error naming --clickhouse-cluster", err)
	}
	one := open(t, layouts(t)[0], clickhouse.Options{})
	ou := mustURL(t, layouts(t)[0].url)
	ou.Path = "/" + one.Database()
	asCluster, err := clickhouse.Open(t.Context(), ou.String()+"?cluster="+l.cluster, clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer asCluster.Close()
	if err := asCluster.CheckSchema(t.Context()); err == nil || !strings.Contains(err.Error(), "one ClickHouse server") {
		t.Errorf("CheckSchema of one server's database as a cluster: %v, want an error saying so", err)
	}
	if _, err := clickhouse.Open(t.Context(), ou.String()+"?cluster=a", clickhouse.Options{Cluster: "b"}); err == nil {
		t.Error("Open with two different clusters: no error")
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// nodeStore is a connection to one node of the cluster, as one server.
func nodeStore(t *testing.T, host, db string) *clickhouse.Store {
	t.Helper()
	s, err := clickhouse.Open(t.Context(), "clickhouse://"+host+"/"+db, clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
