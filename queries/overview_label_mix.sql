-- overview_label_mix: the share of each predicted label per model version over the window.
-- params: $start, $end (timestamps), $symbol (list, empty = all), $model_version (NULL = all)
-- tables: predictions
-- returns: model_version, label, predictions, share (of the version's predictions)
SELECT
  model_version,
  label,
  count(*) AS predictions,
  count(*) / sum(count(*)) OVER (PARTITION BY model_version) AS share
FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
GROUP BY model_version, label
ORDER BY model_version, label
