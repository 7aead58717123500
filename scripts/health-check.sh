#!/usr/bin/env bash
# Check every service of the agent-trace team stack: one line per service, exit status 1
# when any is down.
#
#   scripts/health-check.sh
#
# PostgreSQL answers a query, ClickHouse's /ping answers, the collector's /healthz
# answers, the API's /readyz answers (it pings both databases through the server), and the
# dashboard serves its page.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/stack-lib.sh
. "$repo/deploy/stack-lib.sh"

load_env || die "no stack.env in $DIR: is the stack started (scripts/start-stack.sh)?"
failed=0
check() {
	local name=$1
	shift
	if "$@"; then
		printf 'ok    %s\n' "$name"
	else
		printf 'FAIL  %s\n' "$name"
		failed=1
	fi
}
pg_query() {
	if [ "$AGENT_TRACE_STACK_MODE" = docker ]; then
		docker compose -f "$repo/deploy/docker-compose.yml" exec -T postgres pg_isready -q -U agent_trace -d agent_trace
	else
		"$(pg_bindir)/psql" "$POSTGRES_CONNECTION_STRING" -tAc 'SELECT 1' 2>/dev/null | grep -q 1
	fi
}
check "postgresql  127.0.0.1:$STACK_PG_PORT" pg_query
check "clickhouse  $CLICKHOUSE_HTTP_URL/ping" http_ok "$CLICKHOUSE_HTTP_URL/ping"
check "collector   $AGENT_TRACE_URL/healthz" http_ok "$AGENT_TRACE_URL/healthz"
check "api         $AGENT_TRACE_API_URL/readyz" http_ok "$AGENT_TRACE_API_URL/readyz"
check "dashboard   $AGENT_TRACE_DASHBOARD_URL/" http_ok "$AGENT_TRACE_DASHBOARD_URL/"
exit "$failed"
