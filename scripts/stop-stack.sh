#!/usr/bin/env bash
# Stop the agent-trace team stack started by scripts/start-stack.sh.
#
#   scripts/stop-stack.sh            stop every service; the data stays
#   scripts/stop-stack.sh --purge    stop and delete the data (local: $AGENT_TRACE_STACK_DIR;
#                                    docker: the compose volumes)
#
# The server is stopped first (SIGTERM: it flushes ClickHouse's buffer and finishes its
# requests), then ClickHouse and PostgreSQL.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/stack-lib.sh
. "$repo/deploy/stack-lib.sh"

purge=
case "${1:-}" in
--purge) purge=1 ;;
"") ;;
*) die "usage: $0 [--purge]" ;;
esac

load_env || true
if [ "${AGENT_TRACE_STACK_MODE:-}" = docker ] || { [ -z "${AGENT_TRACE_STACK_MODE:-}" ] && use_docker; }; then
	if [ -n "$purge" ]; then
		docker compose -f "$repo/deploy/docker-compose.yml" down -v
	else
		docker compose -f "$repo/deploy/docker-compose.yml" down
	fi
	rm -f "$DIR/stack.env"
	log "stopped (docker)"
	exit 0
fi

if [ -f "$DIR/server.pid" ]; then
	start-stop-daemon --stop --quiet --oknodo --pidfile "$DIR/server.pid" --retry TERM/30/KILL/5 || true
	rm -f "$DIR/server.pid"
	log "agent-trace-server stopped"
fi
if [ -f "$DB/ch/clickhouse.pid" ]; then
	start-stop-daemon --stop --quiet --oknodo --pidfile "$DB/ch/clickhouse.pid" --retry TERM/30/KILL/5 || true
	rm -f "$DB/ch/clickhouse.pid"
	log "clickhouse stopped"
fi
bin=$(pg_bindir || true)
if [ -n "$bin" ] && [ -f "$DB/pg/data/postmaster.pid" ]; then
	as_user "$(service_user postgres)" "$bin/pg_ctl" -D "$DB/pg/data" -m fast -w stop >/dev/null 2>&1 || true
	log "postgresql stopped"
fi
if [ -n "$purge" ]; then
	case "$DIR" in
	/ | "$HOME" | "") die "refusing to delete $DIR" ;;
	esac
	rm -rf "$DIR"
	log "deleted $DIR"
	if [ "$DB" != "$DIR" ]; then
		rm -rf "$DB"
		log "deleted $DB"
	fi
else
	rm -f "$DIR/stack.env"
fi
