// Package sqlstore holds the logic the SQL stores (internal/sqlite, internal/postgres,
// internal/clickhouse) share and that does not depend on an SQL dialect: the ingest
// skeleton (Ingest, with an IngestDialect for each store's transactions, upserts and
// locks), page limits, opaque keyset cursors, filter building with the dialect's
// placeholders, and the like. The SQL each database speaks stays in its adapter.
package sqlstore
