-- sentiment_score_bands: per time bucket, the sentiment score's exact p5, p25, p50, p75 and p95 over all
-- versions in the filter, and the bucket's predictions.
-- params: $start, $end (timestamps), $bucket (seconds), $symbol (list), $model_version (NULL = all)
-- tables: predictions
-- split: bucket
-- returns: bucket, p5, p25, p50, p75, p95, n
WITH grouped AS (
  SELECT
    time_bucket(to_seconds($bucket), ts) AS bucket,
    quantile_cont(sentiment_score, [0.05, 0.25, 0.5, 0.75, 0.95]) AS levels,
    count(*) AS n
  FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
  GROUP BY bucket
)
SELECT bucket, levels[1] AS p5, levels[2] AS p25, levels[3] AS p50, levels[4] AS p75, levels[5] AS p95, n
FROM grouped
ORDER BY bucket
