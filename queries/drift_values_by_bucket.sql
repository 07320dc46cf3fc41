-- drift_values_by_bucket: one text predictions column's counts per value, per time bucket (NULLs left out).
-- params: $start, $end (timestamps), $bucket (seconds), $symbol (list), $model_version (NULL = all)
-- identifiers: column (a list of one name)
-- tables: predictions
-- split: bucket
-- returns: bucket, value, n
SELECT
  time_bucket(to_seconds($bucket), ts) AS bucket,
  {column} AS value,
  count(*) AS n
FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
WHERE {column} IS NOT NULL
GROUP BY bucket, value
ORDER BY bucket, value
