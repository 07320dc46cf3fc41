-- drift_histograms_reference: each given reference column's distinct values and counts, in one scan.
-- Same shape as drift_histograms: set_id, a column per given column, n.
-- identifiers: columns
-- tables: reference
-- returns: set_id, <column> per column, n
SELECT GROUPING_ID({columns}) AS set_id, {columns}, count(*) AS n
FROM reference
GROUP BY GROUPING SETS ({columns})
