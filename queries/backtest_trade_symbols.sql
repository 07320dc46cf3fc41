-- backtest_trade_symbols: the symbols one run traded, most buys and sells first (hold rows are not trades).
-- params: $run_id
-- tables: trades
-- returns: symbol, trades
SELECT symbol, count(*) FILTER (WHERE action IN ('buy', 'sell')) AS trades
FROM trades
WHERE run_id = $run_id
GROUP BY symbol
ORDER BY trades DESC, symbol
