package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/agent-trace/agent-trace/event"
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
	RetentionDays        int          // ClickHouse table TTL where the server supports one
	Logger               *slog.Logger // background ClickHouse flush errors; nil drops them
}

// openStore is the one place a backend is chosen. SQLite is always migrated to the
// current schema. The team store (PostgreSQL, optionally with ClickHouse) is migrated only
// when migrate is set (the migrate command): every other command refuses an out-of-date
// schema with an error that says to run `agent-trace-server migrate`, since several
// servers share those databases and an upgrade should migrate once, deliberately.
func openStore(ctx context.Context, c storeConfig, migrate bool) (agenttrace.Store, error) {
	dbPath, priceFile := c.DB, c.PriceFile
	table := pricing.Default()
	pricesVersion := "embedded:" + table.AsOf
	if priceFile != "" {
		t, err := pricing.Load(priceFile)
		if err != nil {
			return nil, fmt.Errorf("load price file: %w", err)
		}
		raw, err := os.ReadFile(priceFile)
		if err != nil {
			return nil, fmt.Errorf("read price file: %w", err)
		}
		sum := sha256.Sum256(raw)
		table, pricesVersion = t, "file:"+hex.EncodeToString(sum[:8])
	}
	if c.Postgres != "" || c.ClickHouse != "" {
		return openTeam(ctx, c, pricer{table}, pricesVersion, migrate)
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
	s, err := sqlite.Open(dbPath, sqlite.WithPricer(pricer{table}))
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

func openTeam(ctx context.Context, c storeConfig, p pricer, pricesVersion string, migrate bool) (agenttrace.Store, error) {
	if c.Postgres == "" {
		return nil, fmt.Errorf("--clickhouse (CLICKHOUSE_URL) needs --postgres (POSTGRES_CONNECTION_STRING): PostgreSQL holds the sessions")
	}
	opts := postgres.Options{Pricer: p}
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
		chOpts := clickhouse.Options{RetentionDays: c.RetentionDays}
		if c.Logger != nil {
			logger := c.Logger
			chOpts.OnFlushError = func(err error) { logger.Error("clickhouse flush failed; rows kept for the next flush", "err", err) }
		}
		s, err = openTeamStore(ctx, c.Postgres, c.ClickHouse, opts, chOpts)
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

// pricer adapts the price table to the projection's Pricer. CostOfResponse prices one
// API response with everything the transcript says of it (fast mode, web searches).
type pricer struct{ t *pricing.Table }

func (p pricer) Cost(model string, u agenttrace.Usage) (float64, bool) {
	w5, w1 := u.CacheCreation5mTokens, u.CacheCreation1hTokens
	if w5 == 0 && w1 == 0 && u.CacheCreationInputTokens > 0 {
		// Without the split, writes are priced as 5-minute ones, as Claude Code does.
		w5 = u.CacheCreationInputTokens
	}
	return p.t.Cost(model, pricing.Usage{
		Input:             u.InputTokens,
		Output:            u.OutputTokens,
		CacheWrite5m:      w5,
		CacheWrite1h:      w1,
		CacheRead:         u.CacheReadInputTokens,
		WebSearchRequests: u.WebSearchRequests,
	})
}

func (p pricer) CostOfResponse(u *event.Usage) (float64, bool) {
	return p.t.Cost(u.Model, pricing.FromEvent(u))
}

var _ agenttrace.ResponsePricer = pricer{}
