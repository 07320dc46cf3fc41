-- correlation_rolling: per symbol, the Pearson correlation of daily sentiment with the next trading day's
-- return over the last $window trading days (rows of the grid with both known); NULL until a window is full.
-- params: $start, $end (timestamps), $symbol (list, empty = all), $model_version (NULL = all),
--         $window (trading days, at least 3)
-- tables: predictions, market, trades
-- returns: day, symbol, n (rows in the window), corr
WITH known AS (
  SELECT day, symbol, sentiment, return_next
  FROM correlation_grid($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR), NULL)
  WHERE sentiment IS NOT NULL AND return_next IS NOT NULL
),
rolled AS (
  SELECT
    day,
    symbol,
    count(*) OVER w AS n,
    corr(sentiment, return_next) OVER w AS corr
  FROM known
  WINDOW w AS (PARTITION BY symbol ORDER BY day ROWS BETWEEN $window - 1 PRECEDING AND CURRENT ROW)
)
SELECT day, symbol, n, CASE WHEN n = $window THEN corr END AS corr
FROM rolled
ORDER BY symbol, day
