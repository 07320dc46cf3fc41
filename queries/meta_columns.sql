-- meta_columns: the columns of a contract table's view and their DuckDB types, in file order.
-- params: $table (view name from the contract)
-- tables:
-- returns: column_name, data_type
SELECT
  column_name,
  data_type
FROM duckdb_columns()
WHERE table_name = $table
  AND schema_name = 'main'
ORDER BY column_index
