-- correlation_grid: the Correlation page's daily grid per symbol (see view_correlation_grid.sql), for export.
-- params: $start, $end (timestamps), $symbol (list, empty = all), $model_version (NULL = all),
--         $run_id (the agent run whose trades give net_action; NULL = none)
-- tables: predictions, market, trades
-- returns: day, symbol, sentiment, news, return_same, return_next, net_action
SELECT *
FROM correlation_grid($start, $end, CAST($symbol AS VARCHAR[]), CAST($model_version AS VARCHAR), CAST($run_id AS VARCHAR))
ORDER BY day, symbol
