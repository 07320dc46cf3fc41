-- ops_requests: request counts per time bucket and model version, by outcome and feature-store cache use.
-- One scan serves throughput, error rate, cache hit rate and traffic split.
-- params: $start, $end (timestamps), $bucket (seconds), $symbol (list), $model_version (NULL = all)
-- tables: predictions
-- split: bucket
-- returns: bucket, model_version, requests, server_errors (5xx), client_errors (4xx), cache_hits,
--          cache_lookups (rows where cache_hit is known)
SELECT
  time_bucket(to_seconds($bucket), ts) AS bucket,
  model_version,
  count(*) AS requests,
  count(*) FILTER (WHERE status >= 500) AS server_errors,
  count(*) FILTER (WHERE status >= 400 AND status < 500) AS client_errors,
  count(*) FILTER (WHERE cache_hit) AS cache_hits,
  count(cache_hit) AS cache_lookups
FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
GROUP BY bucket, model_version
ORDER BY bucket, model_version
