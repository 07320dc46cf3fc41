-- drift_values_reference: one reference column's distinct values and their counts (NULL is one value).
-- params: $column (regex ^name$, checked against the view's real columns first)
-- tables: reference
-- returns: value, n
SELECT
  COLUMNS($column) AS value,
  count(*) AS n
FROM reference
GROUP BY 1
ORDER BY 1 NULLS LAST
