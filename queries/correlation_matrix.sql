-- correlation_matrix: Pearson or Spearman correlation of each pair of the grid's variables, pooled over
-- symbols or per symbol, each pair over the rows where both are known (pandas' pairwise-complete corr).
-- Spearman correlates average ranks (tied values share the mean of their ranks, as pandas ranks them),
-- ranked per pair over that pair's rows, so it equals DataFrame.corr(method="spearman"). corr is NULL
-- for fewer than two rows or a constant variable.
-- params: $start, $end (timestamps), $symbol (list, empty = all), $model_version (NULL = all),
--         $run_id (NULL = no net_action), $method ('pearson' or 'spearman'), $per_symbol (boolean)
-- tables: predictions, market, trades
-- returns: symbol (NULL when pooled), x, y (variable names, x < y), n (rows), corr
WITH grid AS (
  SELECT *
  FROM correlation_grid($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR), CAST($run_id AS VARCHAR))
),
known AS (  -- long form; UNPIVOT leaves NULLs out, so what remains is what is known
  UNPIVOT (SELECT day, symbol, CAST(COLUMNS(* EXCLUDE (day, symbol)) AS DOUBLE) FROM grid)
  ON COLUMNS(* EXCLUDE (day, symbol)) INTO NAME variable VALUE value
),
pairs AS (
  SELECT CASE WHEN $per_symbol THEN a.symbol END AS grp, a.variable AS x, b.variable AS y, a.value AS vx, b.value AS vy
  FROM known AS a
  JOIN known AS b ON a.day = b.day AND a.symbol = b.symbol AND a.variable < b.variable
),
ranked AS (
  SELECT
    grp,
    x,
    y,
    CASE WHEN $method = 'spearman'
      THEN rank() OVER (PARTITION BY grp, x, y ORDER BY vx) + (count(*) OVER (PARTITION BY grp, x, y, vx) - 1) / 2.0
      ELSE vx END AS rx,
    CASE WHEN $method = 'spearman'
      THEN rank() OVER (PARTITION BY grp, x, y ORDER BY vy) + (count(*) OVER (PARTITION BY grp, x, y, vy) - 1) / 2.0
      ELSE vy END AS ry
  FROM pairs
)
SELECT grp AS symbol, x, y, count(*) AS n, corr(rx, ry) AS corr
FROM ranked
GROUP BY ALL
ORDER BY symbol NULLS FIRST, x, y
