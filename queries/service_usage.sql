-- service_usage: each service instance's samples per time bucket: how many were up, CPU, memory, disk and the
-- health check's round trip. A sample of an instance that is down has only up = 0 (its agent cannot answer).
-- params: $start, $end (timestamps), $bucket (seconds)
-- tables: service_metrics
-- split: bucket
-- returns: bucket, service, instance, samples, up_samples, cpu_pct (mean), cpu_max, memory_pct (mean),
--          memory_max, disk_pct (max), probe_p95_ms
SELECT
  time_bucket(to_seconds($bucket), ts) AS bucket,
  service,
  instance,
  count(*) AS samples,
  count(*) FILTER (WHERE up > 0) AS up_samples,
  avg(cpu_pct) AS cpu_pct,
  max(cpu_pct) AS cpu_max,
  avg(memory_pct) AS memory_pct,
  max(memory_pct) AS memory_max,
  max(disk_pct) AS disk_pct,
  quantile_cont(probe_ms, 0.95) AS probe_p95_ms
FROM service_metrics
WHERE dt >= CAST($start AS DATE)
  AND dt <= CAST($end - INTERVAL 1 MICROSECOND AS DATE)
  AND ts >= $start
  AND ts < $end
GROUP BY ALL
ORDER BY bucket, service, instance
