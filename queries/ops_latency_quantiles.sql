-- ops_latency_quantiles: exact p50/p95/p99 latency per time bucket and model version.
-- One quantile_cont call with a list of levels sorts each group once, not three times.
-- params: $start, $end (timestamps), $bucket (seconds), $symbol (list), $model_version (NULL = all)
-- tables: predictions
-- split: bucket
-- returns: bucket, model_version, p50_ms, p95_ms, p99_ms, requests
WITH grouped AS (
  SELECT
    time_bucket(to_seconds($bucket), ts) AS bucket,
    model_version,
    quantile_cont(latency_ms, [0.50, 0.95, 0.99]) AS levels,
    count(*) AS requests
  FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
  GROUP BY bucket, model_version
)
SELECT
  bucket,
  model_version,
  levels[1] AS p50_ms,
  levels[2] AS p95_ms,
  levels[3] AS p99_ms,
  requests
FROM grouped
ORDER BY bucket, model_version
