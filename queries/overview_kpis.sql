-- overview_kpis: headline counts for [start, end) and for the window of the same length before it.
-- The rates are divided in Python (dashapp/ops/serving.py), as for Operations and the alerts: one definition.
-- params: $start, $end (timestamps), $symbol (list, empty = all), $model_version (NULL = all)
-- tables: predictions
-- returns: period ('current' | 'previous'), predictions, requests (the same count), server_errors (5xx), p95_latency_ms,
--          cache_hits, cache_lookups (rows where cache_hit is known)
SELECT
  CASE WHEN ts >= $start THEN 'current' ELSE 'previous' END AS period,
  count(*) AS predictions,
  count(*) AS requests,
  count(*) FILTER (WHERE status >= 500) AS server_errors,
  quantile_cont(latency_ms, 0.95) AS p95_latency_ms,
  count(*) FILTER (WHERE cache_hit) AS cache_hits,
  count(cache_hit) AS cache_lookups
FROM predictions_in(
  $start - ($end - $start), $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR)
)
GROUP BY period
ORDER BY period
