-- drift_histograms_reference: each given reference column's values and counts, in one scan.
-- Same shape as drift_histograms: a MAP per column, then the NULL counts, then n.
-- params: $columns (regex ^(a|b|...)$, checked against the view's real columns first)
-- tables: reference
-- returns: <column> MAP per column, <column> NULL count per column, n
SELECT
  histogram(COLUMNS($columns)),
  count(*) - count(COLUMNS($columns)),
  count(*) AS n
FROM reference
