-- service_usage: each service instance's samples per time bucket: how many were up, and its CPU, memory and disk.
-- params: $start, $end (timestamps), $bucket (seconds)
-- tables: service_metrics
-- split: bucket
-- returns: bucket, service, instance, samples, up_samples, cpu_pct (mean), memory_pct (mean), disk_pct (max)
SELECT
  time_bucket(to_seconds($bucket), ts) AS bucket,
  service,
  instance,
  count(*) AS samples,
  count(*) FILTER (WHERE up > 0) AS up_samples,
  avg(cpu_pct) AS cpu_pct,
  avg(memory_pct) AS memory_pct,
  max(disk_pct) AS disk_pct
FROM service_metrics
WHERE dt >= CAST($start AS DATE)
  AND dt <= CAST($end - INTERVAL 1 MICROSECOND AS DATE)
  AND ts >= $start
  AND ts < $end
GROUP BY ALL
ORDER BY bucket, service, instance
