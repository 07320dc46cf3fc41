-- overview_kpis: headline numbers for [start, end) and for the window of the same length before it.
-- params: $start, $end (timestamps), $symbol (list, empty = all), $model_version (NULL = all)
-- tables: predictions
-- returns: period ('current' | 'previous'), predictions, error_rate, p95_latency_ms, cache_hit_rate
SELECT
  CASE WHEN ts >= $start THEN 'current' ELSE 'previous' END AS period,
  count(*) AS predictions,
  avg(CAST(status >= 500 AS DOUBLE)) AS error_rate,
  quantile_cont(latency_ms, 0.95) AS p95_latency_ms,
  avg(CAST(cache_hit AS DOUBLE)) AS cache_hit_rate
FROM predictions_in(
  $start - ($end - $start), $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR)
)
GROUP BY period
ORDER BY period
