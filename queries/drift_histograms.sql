-- drift_histograms: each given predictions column's values and counts over the window, in one scan.
-- Per column, in the view's column order: histogram() (a MAP value -> count, NULLs left out), then the
-- columns' NULL counts, then n (rows). Not split by day: histogram() per day group was 2.7x slower
-- than one group (bench_drift.py), and a cold cache must stay fast. The columns are checked against
-- the view's real columns first (drift/engine.py) and bound as one anchored regex, so COLUMNS()
-- selects them: nothing is formatted into the SQL.
-- params: $start, $end (timestamps), $symbol (list, empty = all), $model_version (NULL = all),
--         $columns (regex ^(a|b|...)$)
-- tables: predictions
-- returns: <column> MAP per column, <column> NULL count per column, n
SELECT
  histogram(COLUMNS($columns)),
  count(*) - count(COLUMNS($columns)),
  count(*) AS n
FROM predictions_in($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR))
