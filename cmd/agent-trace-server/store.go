package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/clickhouse"
	"github.com/agent-trace/agent-trace/internal/postgres"
	"github.com/agent-trace/agent-trace/internal/pricing"
	"github.com/agent-trace/agent-trace/internal/sqlite"
)

// storeConfig selects and configures the backend: the team store when Postgres is set
// (ClickHouse optional beside it), else the SQLite file at DB.
type storeConfig struct {
	DB, PriceFile        string
	Postgres, ClickHouse string
	ClickHouseCluster    string        // the cluster ClickHouse's tables live on; empty for one server
	RetentionDays        int           // ClickHouse table TTL where the server supports one
	IdleAfter            time.Duration // quiet time after which an active session reads as idle; 0: the default
	Logger               *slog.Logger  // warnings (ClickHouse unreachable at start); nil drops them
	MemoryLimit          int64         // the process's memory limit, which sizes SQLite's caches (sqlite.WithMemory); 0: their defaults
}

// openStore is the one place a backend is chosen. SQLite is always migrated to the
// current schema. The team store (PostgreSQL, optionally with ClickHouse) is migrated only
// when migrate is set (the migrate command): every other command refuses an out-of-date
// schema with an error that says to run `agent-trace-server migrate`, since several
// servers share those databases and an upgrade should migrate once, deliberately.
func openStore(ctx context.Context, c storeConfig, migrate bool) (agenttrace.Store, error) {
	dbPath := c.DB
	table, pricesVersion, err := pricing.Configured(c.PriceFile)
	if err != nil {
		return nil, err
	}
	if c.Postgres != "" || c.ClickHouse != "" {
		return openTeam(ctx, c, pricing.Pricer{Table: table}, pricesVersion, migrate)
	}
	if dbPath == "" {
		p, err := defaultDBPath()
		if err != nil {
			return nil, err
		}
		dbPath = p
	}
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	opts := []sqlite.Option{sqlite.WithPricer(pricing.Pricer{Table: table})}
	if c.IdleAfter > 0 {
		opts = append(opts, sqlite.WithIdleAfter(c.IdleAfter))
	}
	if c.MemoryLimit > 0 {
		opts = append(opts, sqlite.WithMemory(c.MemoryLimit))
	}
	s, err := sqlite.Open(dbPath, opts...)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", dbPath, err)
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate database %s: %w", dbPath, err)
	}
	// Stored sessions carry costs computed with the prices of their day; re-project them
	// when the projection rules or the price table changed since, so no page mixes both.
	if _, err := s.Refresh(ctx, pricesVersion); err != nil {
		s.Close()
		return nil, fmt.Errorf("refresh stored sessions %s: %w", dbPath, err)
	}
	return s, nil
}

func openTeam(ctx context.Context, c storeConfig, p pricing.Pricer, pricesVersion string, migrate bool) (agenttrace.Store, error) {
	if c.Postgres == "" {
		return nil, fmt.Errorf("--clickhouse (CLICKHOUSE_URL) needs --postgres (POSTGRES_CONNECTION_STRING): PostgreSQL holds the sessions")
	}
	// Under a memory limit the projections get a third, as with SQLite (sqlite.WithMemory).
	opts := postgres.Options{Pricer: p, IdleAfter: c.IdleAfter, ProjectorCacheBytes: int(c.MemoryLimit / 3)}
	// PostgreSQL alone, or the team store composed with ClickHouse: either migrates,
	// checks its schema and refreshes its projections.
	var s interface {
		agenttrace.Store
		Migrate(context.Context) error
		CheckSchema(context.Context) error
		Refresh(ctx context.Context, pricesVersion string) (int, error)
	}
	var err error
	if c.ClickHouse == "" {
		s, err = postgres.Open(ctx, c.Postgres, opts)
	} else {
		var t *teamStore
		t, err = openTeamStore(ctx, c.Postgres, c.ClickHouse, opts, clickhouse.Options{RetentionDays: c.RetentionDays,
			Cluster: c.ClickHouseCluster})
		if err == nil && !migrate && c.Logger != nil {
			if d := t.Degraded(ctx); d != nil {
				c.Logger.Warn("starting without ClickHouse; ingest goes on", "problem", d[0])
			}
		}
		s = t
	}
	if err != nil {
		return nil, err
	}
	if migrate {
		err = s.Migrate(ctx)
	} else {
		err = s.CheckSchema(ctx)
	}
	if err == nil {
		// As for SQLite: stored sessions are re-projected when the rules or prices changed.
		if _, rerr := s.Refresh(ctx, pricesVersion); rerr != nil {
			err = fmt.Errorf("refresh stored sessions: %w", rerr)
		}
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func defaultDBPath() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory for the default database: %w", err)
	}
	return filepath.Join(home, ".agent-trace", "data.db"), nil
}
