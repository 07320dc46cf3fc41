-- market_symbols: the symbols with daily bars in market, and their first and last day.
-- tables: market
-- returns: symbol, first_day, last_day
SELECT symbol, min(ts) AS first_day, max(ts) AS last_day
FROM market
GROUP BY symbol
ORDER BY symbol
