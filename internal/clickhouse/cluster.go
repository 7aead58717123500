package clickhouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// A cluster changes where rows live, not what the queries say. Each table of the
// migrations becomes two ON CLUSTER tables:
//
//   - name_local, a Replicated*MergeTree on every shard, replicated through ZooKeeper
//     under /clickhouse/tables/{shard}/<database>/name_local with the node's {replica}
//     macro. Mutations (erasure, retention, a rebuild's clear) and TTLs address these:
//     a Distributed table takes none.
//   - name, a Distributed table over name_local on every node, which inserts and reads
//     use as they use the table itself on one server. Inserts are synchronous
//     (insert_distributed_sync), so a shipped batch is on its shards when Write returns.
//
// Rows are sharded by the key their deduplication groups on (shardKeys), so all versions
// of an event, a usage fact or a session's day sit on one shard: a ReplacingMergeTree
// folds them when merging, and argMax over the Distributed table is exact either way.
// A subquery over a Distributed table inside a query over another runs once, on the
// node that asked, and its result goes to every shard (GLOBAL IN); ClickHouse refuses
// the plain IN ("Double-distributed IN/JOIN subqueries is denied").
//
// schema_migrations is replicated to every node (one ZooKeeper path for all shards), so
// whichever node answers knows what was applied.

// shardKeys is the sharding expression of every table a migration creates; a migration
// that adds a table adds its key here, or Migrate refuses to run on a cluster.
var shardKeys = map[string]string{
	"events":             "cityHash64(id)",
	"usage_facts":        "cityHash64(event_id)",
	"usage_daily":        "cityHash64(session_id)",
	"usage_session_days": "cityHash64(session_id)",
}

// clusterOf is the cluster the URL's parameter and the option agree on.
func clusterOf(fromURL, fromOpts string) (string, error) {
	c := fromOpts
	if c == "" {
		c = fromURL
	}
	if fromURL != "" && fromOpts != "" && fromURL != fromOpts {
		return "", fmt.Errorf("cluster %q in the url but %q given besides", fromURL, fromOpts)
	}
	if c != "" && !identRE.MatchString(c) {
		return "", fmt.Errorf("cluster name %q: letters, digits and _ only", c)
	}
	return c, nil
}

// clusterSettings are the session settings a cluster needs: an insert into a Distributed
// table returns once its rows are on their shards, not when they are queued on this node.
func clusterSettings(cluster string) ch.Settings {
	if cluster == "" {
		return nil
	}
	return ch.Settings{"insert_distributed_sync": 1}
}

// Cluster is the cluster the tables live on, empty for one server.
func (s *Store) Cluster() string { return s.cluster }

// onCluster is the ON CLUSTER clause DDL and mutations take on a cluster.
func (s *Store) onCluster() string {
	if s.cluster == "" {
		return ""
	}
	return " ON CLUSTER `" + s.cluster + "`"
}

// local is the table that holds name's rows on this layout: the table itself on one
// server, every shard's name_local on a cluster.
func (s *Store) local(name string) string {
	if s.cluster == "" {
		return s.table(name)
	}
	return s.table(name + "_local")
}

// globalIn is the IN operator for a subquery over a distributed table.
func (s *Store) globalIn() string {
	if s.cluster == "" {
		return "IN"
	}
	return "GLOBAL IN"
}

// allNodes is the FROM of a system table as every shard has it: on one server the table
// itself, on a cluster the cluster table function over it.
func (s *Store) allNodes(system string) string {
	if s.cluster == "" {
		return "system." + system
	}
	return "cluster('" + s.cluster + "', system, " + system + ")"
}

// migrationsTable is the DDL of schema_migrations.
func (s *Store) migrationsTable() string {
	engine := "ReplacingMergeTree"
	if s.cluster != "" {
		engine = fmt.Sprintf("ReplicatedReplacingMergeTree('/clickhouse/tables/all/%s/schema_migrations', '{shard}-{replica}')", s.db)
	}
	return `CREATE TABLE IF NOT EXISTS ` + s.table("schema_migrations") + s.onCluster() +
		` (name String, applied_ms Int64) ENGINE = ` + engine + ` ORDER BY name`
}

var (
	createRE = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS \{db\}\.(\w+) \((.*?)\) ENGINE = (\w+)\((.*)$`)
	dropRE   = regexp.MustCompile(`^DROP TABLE IF EXISTS \{db\}\.(\w+)$`)
	// distributedRE finds the cluster a Distributed table's engine names.
	distributedRE = regexp.MustCompile("Distributed\\(\\s*['`]?(\\w+)")
)

// ddl is a migration statement as it runs on this layout, {db} filled in: itself on one
// server; on a cluster the local and Distributed tables of a CREATE, or the drop of both.
func (s *Store) ddl(st string) ([]string, error) {
	db := "`" + s.db + "`"
	if s.cluster == "" {
		return []string{strings.ReplaceAll(st, "{db}", db)}, nil
	}
	if m := dropRE.FindStringSubmatch(st); m != nil {
		return []string{
			"DROP TABLE IF EXISTS " + s.table(m[1]) + s.onCluster(),
			"DROP TABLE IF EXISTS " + s.local(m[1]) + s.onCluster(),
		}, nil
	}
	m := createRE.FindStringSubmatch(st)
	if m == nil {
		return nil, fmt.Errorf("statement not supported on a cluster (only CREATE TABLE IF NOT EXISTS and DROP TABLE IF EXISTS are): %.60s", st)
	}
	name, columns, engine, rest := m[1], m[2], m[3], m[4]
	key, ok := shardKeys[name]
	if !ok {
		return nil, fmt.Errorf("table %s has no shard key (clickhouse.shardKeys)", name)
	}
	args, tail, err := splitArgs(rest)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", name, err)
	}
	replicated := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s_local', '{replica}'", s.db, name)
	if strings.TrimSpace(args) != "" {
		replicated += ", " + args
	}
	return []string{
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s (%s) ENGINE = Replicated%s(%s)%s",
			s.local(name), s.onCluster(), columns, engine, replicated, tail),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s AS %s ENGINE = Distributed(`%s`, %s, %s_local, %s)",
			s.table(name), s.onCluster(), s.local(name), s.cluster, db, name, key),
	}, nil
}

// splitArgs splits "args) tail" at the parenthesis that closes the engine's arguments.
func splitArgs(rest string) (args, tail string, err error) {
	depth := 1
	for i, r := range rest {
		switch r {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return rest[:i], rest[i+1:], nil
			}
		}
	}
	return "", "", fmt.Errorf("engine arguments not closed")
}

// checkLayout refuses a database whose tables were made for the other layout: a cluster's
// Distributed tables opened as one server (every mutation would fail), or one server's
// tables opened as a cluster, or another cluster's tables.
func (s *Store) checkLayout(ctx context.Context) error {
	var engine, full string
	err := s.conn.QueryRow(ctx, `SELECT engine, engine_full FROM system.tables WHERE database = ? AND name = 'events'`, s.db).
		Scan(&engine, &full)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // not migrated yet
	}
	if err != nil {
		return fmt.Errorf("check the table layout: %w", err)
	}
	switch {
	case engine == "Distributed" && s.cluster == "":
		return fmt.Errorf("database %s lives on a ClickHouse cluster (%s): give its name with --clickhouse-cluster or ?cluster= in the url", s.db, full)
	case engine != "Distributed" && s.cluster != "":
		return fmt.Errorf("database %s was made for one ClickHouse server, not cluster %s: migrate a new database on the cluster and run `clickhouse rebuild`", s.db, s.cluster)
	case s.cluster != "" && distributedRE.FindStringSubmatch(full) != nil && distributedRE.FindStringSubmatch(full)[1] != s.cluster:
		return fmt.Errorf("database %s lives on another cluster (%s), not %s", s.db, full, s.cluster)
	}
	return nil
}
