-- sentiment_daily: predictions per day, model version and label, with their scores' and confidences' sums:
-- traffic share, label mix, mean score and confidence, and the share with an outcome all sum these rows.
-- params: $start, $end (timestamps), $symbol (list), $model_version (NULL = all)
-- tables: predictions
-- split: day
-- returns: day, model_version, label, n, score_sum, confidence_sum
SELECT
  CAST(ts AS DATE) AS day,
  model_version,
  label,
  count(*) AS n,
  sum(sentiment_score) AS score_sum,
  sum(confidence) AS confidence_sum
FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
GROUP BY ALL
ORDER BY ALL
