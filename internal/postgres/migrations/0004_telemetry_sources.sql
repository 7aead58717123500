-- When Claude Code's telemetry last arrived from each installation (its OTel user.id),
-- for `agent-trace-hook status`: one row per installation, not per event.
CREATE TABLE telemetry_sources (
    source  text COLLATE "C" PRIMARY KEY,
    last_ms bigint NOT NULL
);
