-- correlation_lead_lag: correlation of daily sentiment with the same symbol's return `lag` trading days
-- later (lag > 0: sentiment leads; lag < 0: it follows), for lags -5 .. 5, pooled over symbols. Only
-- trading days count (rows of the grid with a same-day return); Spearman correlates average ranks
-- within each lag, as pandas does.
-- params: $start, $end (timestamps), $symbol (list, empty = all), $model_version (NULL = all),
--         $method ('pearson' or 'spearman')
-- tables: predictions, market, trades
-- returns: lag, n (pairs), corr
WITH trading AS (
  SELECT symbol, sentiment, return_same, row_number() OVER (PARTITION BY symbol ORDER BY day) AS i
  FROM correlation_grid($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR), NULL)
  WHERE return_same IS NOT NULL AND sentiment IS NOT NULL
),
pairs AS (
  SELECT l.lag, a.sentiment AS vx, b.return_same AS vy
  FROM trading AS a
  CROSS JOIN range(-5, 6) AS l(lag)
  JOIN trading AS b ON b.symbol = a.symbol AND b.i = a.i + l.lag
),
ranked AS (
  SELECT
    lag,
    CASE WHEN $method = 'spearman'
      THEN rank() OVER (PARTITION BY lag ORDER BY vx) + (count(*) OVER (PARTITION BY lag, vx) - 1) / 2.0
      ELSE vx END AS rx,
    CASE WHEN $method = 'spearman'
      THEN rank() OVER (PARTITION BY lag ORDER BY vy) + (count(*) OVER (PARTITION BY lag, vy) - 1) / 2.0
      ELSE vy END AS ry
  FROM pairs
)
SELECT lag, count(*) AS n, corr(rx, ry) AS corr
FROM ranked
GROUP BY lag
ORDER BY lag
