-- meta_settings: read the sandbox settings back after start-up (docs/reliability.md).
-- params: $names (list of setting names)
-- tables:
-- returns: name, value
SELECT
  name,
  value
FROM duckdb_settings()
WHERE list_contains($names, name)
