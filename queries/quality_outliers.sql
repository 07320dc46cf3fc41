-- quality_outliers: per given numeric column of one time-stamped contract table over [start, end), the IQR
-- rule: the quartiles as numpy's default (linear) percentile and quantile_cont compute them, the fences
-- Q1 - 1.5 IQR and Q3 + 1.5 IQR, and how many values lie below and above them. Exact, from each column's
-- distinct values and counts (one grouping set per column, as drift_histograms.sql): quantile_cont over
-- 9 columns of 10M rows needs 9 x 80 MB of state and ran out of the worker's memory, and took 2.4 s in
-- chunks. A value at rank k (0-based) is the smallest whose running count exceeds k. NULLs are no values;
-- DuckDB sorts NaN above every number, so a NaN counts above the upper fence.
-- params: $table (view name from the contract), $time_column (anchored regex naming its time column),
--         $start, $end (timestamps)
-- identifiers: columns (numeric columns of the table)
-- tables:
-- returns: position (the column's 1-based place in $columns), n, q1, q3, low, high, below, above
WITH counts AS (
  SELECT
    coalesce({columns: CASE WHEN GROUPING(@) = 0 THEN # END}) AS position,
    coalesce({columns: CAST(@ AS DOUBLE)}) AS value,
    count(*) AS n
  FROM query_table($table)
  WHERE dt >= CAST($start AS DATE)
    AND dt <= CAST($end AS DATE)
    AND COLUMNS($time_column) >= $start
    AND COLUMNS($time_column) < $end
  GROUP BY GROUPING SETS ({columns})
),
ranked AS (
  SELECT
    position,
    value,
    n,
    sum(n) OVER (PARTITION BY position ORDER BY value ROWS UNBOUNDED PRECEDING) AS through,
    sum(n) OVER (PARTITION BY position) AS total
  FROM counts
  WHERE value IS NOT NULL
),
positions AS (
  -- numpy's linear method: h = (n - 1) p, between the values at ranks floor(h) and floor(h) + 1
  SELECT *, (total - 1) * 0.25 AS h1, (total - 1) * 0.75 AS h3
  FROM ranked
),
neighbours AS (
  SELECT
    position,
    any_value(total) AS total,
    any_value(h1) - floor(any_value(h1)) AS t1,
    any_value(h3) - floor(any_value(h3)) AS t3,
    min(value) FILTER (WHERE through > floor(h1)) AS q1_below,
    coalesce(min(value) FILTER (WHERE through > floor(h1) + 1), q1_below) AS q1_above,
    min(value) FILTER (WHERE through > floor(h3)) AS q3_below,
    coalesce(min(value) FILTER (WHERE through > floor(h3) + 1), q3_below) AS q3_above
  FROM positions
  GROUP BY position
),
fences AS (
  SELECT
    position,
    total,
    q1_below + (q1_above - q1_below) * t1 AS q1,
    q3_below + (q3_above - q3_below) * t3 AS q3,
    q1 - 1.5 * (q3 - q1) AS low,
    q3 + 1.5 * (q3 - q1) AS high
  FROM neighbours
)
SELECT
  f.position,
  CAST(any_value(f.total) AS BIGINT) AS n,
  any_value(f.q1) AS q1,
  any_value(f.q3) AS q3,
  any_value(f.low) AS low,
  any_value(f.high) AS high,
  CAST(coalesce(sum(r.n) FILTER (WHERE r.value < f.low), 0) AS BIGINT) AS below,
  CAST(coalesce(sum(r.n) FILTER (WHERE r.value > f.high), 0) AS BIGINT) AS above
FROM fences AS f
JOIN ranked AS r USING (position)
GROUP BY f.position
ORDER BY f.position
