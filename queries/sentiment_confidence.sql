-- sentiment_confidence: predictions per model version and confidence bin of width 0.05 (0 .. 19; 1.0 in 19).
-- params: $start, $end (timestamps), $symbol (list), $model_version (NULL = all)
-- tables: predictions
-- returns: model_version, confidence_bin, n
SELECT model_version, least(CAST(floor(confidence * 20) AS INTEGER), 19) AS confidence_bin, count(*) AS n
FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
WHERE confidence IS NOT NULL
GROUP BY ALL
ORDER BY ALL
