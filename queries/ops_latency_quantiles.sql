-- ops_latency_quantiles: exact p50/p95/p99 latency per time bucket and model version.
-- params: $start, $end (timestamps), $bucket (seconds), $symbol (list), $model_version (NULL = all)
-- tables: predictions
-- returns: bucket, model_version, p50_ms, p95_ms, p99_ms, requests
SELECT
  time_bucket(to_seconds($bucket), ts) AS bucket,
  model_version,
  quantile_cont(latency_ms, 0.50) AS p50_ms,
  quantile_cont(latency_ms, 0.95) AS p95_ms,
  quantile_cont(latency_ms, 0.99) AS p99_ms,
  count(*) AS requests
FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
GROUP BY bucket, model_version
ORDER BY bucket, model_version
