-- slo_requests: scoring requests per time bucket, for the latency and cache-hit objectives: how many took
-- $latency_ms or more, and the feature-store cache's hits and lookups. Over every symbol and model version.
-- params: $start, $end (timestamps), $bucket (seconds), $latency_ms (number)
-- tables: predictions
-- split: bucket
-- returns: bucket, requests, slow, cache_hits, cache_lookups
SELECT
  time_bucket(to_seconds($bucket), ts) AS bucket,
  count(*) AS requests,
  count(*) FILTER (WHERE latency_ms >= $latency_ms) AS slow,
  count(*) FILTER (WHERE cache_hit) AS cache_hits,
  count(cache_hit) AS cache_lookups
FROM predictions_in($start, $end, CAST([] AS VARCHAR[]), CAST(NULL AS VARCHAR))
GROUP BY bucket
ORDER BY bucket
