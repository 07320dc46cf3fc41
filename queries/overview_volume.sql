-- overview_volume: predictions per time bucket and label.
-- params: $start, $end (timestamps), $bucket (seconds), $symbol (list), $model_version (NULL = all)
-- tables: predictions
-- split: bucket
-- returns: bucket, label, predictions
SELECT
  time_bucket(to_seconds($bucket), ts) AS bucket,
  label,
  count(*) AS predictions
FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
GROUP BY bucket, label
ORDER BY bucket, label
