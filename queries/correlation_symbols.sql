-- correlation_symbols: correlation of daily mean sentiment between every two symbols, over the days both
-- had news; Spearman correlates average ranks per pair, as pandas does.
-- params: $start, $end (timestamps), $symbol (list, empty = all), $model_version (NULL = all),
--         $method ('pearson' or 'spearman')
-- tables: predictions, market, trades
-- returns: a, b (symbols, a < b), n (days), corr
WITH daily AS (
  SELECT day, symbol, sentiment
  FROM correlation_grid($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR), NULL)
  WHERE sentiment IS NOT NULL
),
pairs AS (
  SELECT x.symbol AS a, y.symbol AS b, x.sentiment AS vx, y.sentiment AS vy
  FROM daily AS x
  JOIN daily AS y ON x.day = y.day AND x.symbol < y.symbol
),
ranked AS (
  SELECT
    a,
    b,
    CASE WHEN $method = 'spearman'
      THEN rank() OVER (PARTITION BY a, b ORDER BY vx) + (count(*) OVER (PARTITION BY a, b, vx) - 1) / 2.0
      ELSE vx END AS rx,
    CASE WHEN $method = 'spearman'
      THEN rank() OVER (PARTITION BY a, b ORDER BY vy) + (count(*) OVER (PARTITION BY a, b, vy) - 1) / 2.0
      ELSE vy END AS ry
  FROM pairs
)
SELECT a, b, count(*) AS n, corr(rx, ry) AS corr
FROM ranked
GROUP BY a, b
ORDER BY a, b
