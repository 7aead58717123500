-- The outbox of the ClickHouse shipper: every change ClickHouse must receive, written in
-- the transaction that makes it durable (and that the client's acknowledgement waits
-- for), so nothing waits in a process's memory. An event row names the event to ship
-- (its current body is read when shipped: an erased event is simply not shipped); a
-- usage row carries the usage record or tombstone; an erase row the sessions to erase.
--
-- The shipper deletes the rows it shipped. It does not ship "everything above a seq
-- watermark": a transaction that took a smaller seq may commit after one that took a
-- larger seq, and a watermark would skip its rows for good. Deleting what was shipped
-- makes every committed row wait here until it is shipped, whenever it commits.
CREATE TABLE ch_outbox (
    seq        bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    event_id   text COLLATE "C",
    usage      jsonb,
    erase      text[]
);

-- How far the shipper got: the largest seq shipped, the rows shipped in all and when, for
-- `clickhouse check`, readiness and the analytics answers' lag. One row.
CREATE TABLE ch_ship_state (
    id           int PRIMARY KEY CHECK (id = 1),
    shipped_seq  bigint NOT NULL DEFAULT 0,
    shipped_rows bigint NOT NULL DEFAULT 0,
    shipped_at   timestamptz
);
INSERT INTO ch_ship_state (id) VALUES (1);
