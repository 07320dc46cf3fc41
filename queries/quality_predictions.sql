-- quality_predictions: per day, predictions that break the contract's value rules: a sentiment_score outside
-- [-1, 1] (NaN included), a confidence outside [0, 1], a label outside $labels (or none), no request_id, and
-- request_ids logged more than once that day (each extra copy counts once).
-- params: $start, $end (timestamps), $labels (list: the contract's labels)
-- tables: predictions
-- split: day
-- returns: day, rows, score_out_of_range, confidence_out_of_range, unknown_label, missing_request_id,
--          duplicate_request_id
SELECT
  CAST(ts AS DATE) AS day,
  count(*) AS rows,
  count(*) FILTER (WHERE NOT sentiment_score BETWEEN -1 AND 1) AS score_out_of_range,
  count(*) FILTER (WHERE NOT confidence BETWEEN 0 AND 1) AS confidence_out_of_range,
  count(*) FILTER (WHERE label IS NULL OR NOT list_contains(CAST($labels AS VARCHAR[]), label)) AS unknown_label,
  count(*) FILTER (WHERE request_id IS NULL) AS missing_request_id,
  count(request_id) - count(DISTINCT request_id) AS duplicate_request_id
FROM predictions_in($start, $end, CAST([] AS VARCHAR[]), CAST(NULL AS VARCHAR))
GROUP BY day
ORDER BY day
