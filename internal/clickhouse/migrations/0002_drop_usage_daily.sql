-- usage_daily summed signed differences of usage_facts, written by a second insert: a
-- batch shipped twice counted twice there, and a failure between the two inserts left
-- them disagreeing. Queries now read usage_facts alone (deduplicated by version), so the
-- two can never disagree; the rollup goes.
DROP TABLE IF EXISTS {db}.usage_daily
