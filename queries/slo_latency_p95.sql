-- slo_latency_p95: the exact p95 latency of every scoring request in [start, end), all versions together.
-- params: $start, $end (timestamps)
-- tables: predictions
-- returns: p95_ms, requests
SELECT
  quantile_cont(latency_ms, 0.95) AS p95_ms,
  count(*) AS requests
FROM predictions_in($start, $end, CAST([] AS VARCHAR[]), CAST(NULL AS VARCHAR))
