-- overview_incidents_serving: episodes of consecutive hours whose p95 latency or server error rate broke a threshold.
-- params: $start, $end (timestamps), $symbol (list), $model_version (NULL = all),
--         $latency_ms_threshold (ms), $error_rate_threshold (0..1)
-- tables: predictions
-- returns: started, ended, hours, peak_p95_ms, peak_error_rate, predictions, slow, failing
WITH hourly AS (
  SELECT
    time_bucket(INTERVAL 1 HOUR, ts) AS hour,
    quantile_cont(latency_ms, 0.95) AS p95_ms,
    avg(CAST(status >= 500 AS DOUBLE)) AS error_rate,
    count(*) AS n
  FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
  GROUP BY hour
  -- A near-empty hour's p95 is noise, not an incident.
  HAVING count(*) >= 20
),
flagged AS (
  SELECT
    *,
    p95_ms > $latency_ms_threshold AS slow,
    error_rate > $error_rate_threshold AS failing,
    -- Consecutive flagged hours share the same island value (gaps and islands).
    hour - to_hours(row_number() OVER (ORDER BY hour)) AS island
  FROM hourly
  WHERE p95_ms > $latency_ms_threshold
    OR error_rate > $error_rate_threshold
)
SELECT
  min(hour) AS started,
  max(hour) + INTERVAL 1 HOUR AS ended,
  count(*) AS hours,
  max(p95_ms) AS peak_p95_ms,
  max(error_rate) AS peak_error_rate,
  CAST(sum(n) AS BIGINT) AS predictions,
  bool_or(slow) AS slow,
  bool_or(failing) AS failing
FROM flagged
GROUP BY island
ORDER BY started DESC
