"""The data contract: which parquet tables the portal reads and the columns each must have.

The tables of docs/data-contract.md, in code. The query layer builds its views from it, `dashapp check`
validates a data directory against it, `dashapp demo` writes it, and empty states quote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

# Column kinds: timestamp, date, string, number, integer, boolean (check.py maps arrow types to them).


@dataclass(frozen=True)
class Column:
    name: str
    kind: str


@dataclass(frozen=True)
class Table:
    name: str
    required: tuple[Column, ...]
    optional: tuple[Column, ...] = ()
    time_column: str | None = None
    # Logs grow by the day: the demo writes them as dt=YYYY-MM-DD hive partitions.
    partitioned: bool = False
    # How often new rows are expected; a table older than this is stale (None: written irregularly).
    cadence: timedelta | None = None
    # A deployment may not log it: absent is no fault (`dashapp check` passes, its alert rules have no data).
    may_be_absent: bool = False

    @property
    def required_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.required)

    def locations(self, data_dir: Path) -> tuple[Path, Path]:
        """Return the two places the table may live: a folder and a single file."""
        return data_dir / self.name, data_dir / f"{self.name}.parquet"

    def expected_columns_text(self) -> str:
        return ", ".join(f"{c.name} ({c.kind})" for c in self.required)


def _cols(*specs: str) -> tuple[Column, ...]:
    """Build columns from 'name:kind' strings."""
    return tuple(Column(*spec.split(":")) for spec in specs)


LABELS = ("negative", "neutral", "positive")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "predictions",
            _cols(
                "ts:timestamp",
                "request_id:string",
                "symbol:string",
                "model_version:string",
                "sentiment_score:number",
                "confidence:number",
                "label:string",
                "latency_ms:number",
                "status:integer",
            ),
            _cols("cache_hit:boolean", "source:string"),
            time_column="ts",
            partitioned=True,
            cadence=timedelta(minutes=15),
        ),
        Table(
            "reference",
            _cols("label:string", "sentiment_score:number"),
        ),
        Table(
            "outcomes",
            _cols("request_id:string", "ts:timestamp", "true_label:string"),
            time_column="ts",
            partitioned=True,
            cadence=timedelta(hours=2),
        ),
        Table(
            "market",
            _cols("ts:date", "symbol:string", "close:number"),
            _cols("volume:number"),
            time_column="ts",
            cadence=timedelta(days=4),  # daily bars; weekends and holidays
        ),
        Table(
            "backtest_runs",
            _cols("run_id:string", "agent:string", "agent_version:string", "kind:string", "created_at:timestamp"),
            _cols("params:string"),
            time_column="created_at",
        ),
        Table(
            "backtest_returns",
            _cols("run_id:string", "ts:date", "strategy_return:number"),
            _cols("benchmark_return:number", "exposure:number"),
            time_column="ts",
        ),
        Table(
            "trades",
            _cols("run_id:string", "ts:timestamp", "symbol:string", "action:string", "quantity:number", "price:number"),
            time_column="ts",
        ),
        Table(
            "pipeline_runs",
            _cols(
                "pipeline:string",
                "stage:string",
                "run_id:string",
                "started_at:timestamp",
                "finished_at:timestamp",
                "status:string",
            ),
            _cols("rows_in:integer", "rows_out:integer", "error:string"),
            time_column="started_at",
            cadence=timedelta(hours=2),
        ),
        Table(
            "training_runs",
            _cols("run_id:string", "model_version:string", "finished_at:timestamp", "accuracy:number", "f1:number"),
            _cols("precision:number", "recall:number"),
            time_column="finished_at",
        ),
        # Every logged point of each training run's metrics, long (a new metric key needs no new column), joined to
        # training_runs by run_id (`dashapp import-mlflow` and the demo write it); written rarely, read whole.
        Table(
            "training_metrics",
            _cols("run_id:string", "key:string", "step:integer", "ts:timestamp", "value:number"),
            may_be_absent=True,
        ),
        Table(
            "service_metrics",
            _cols(
                "ts:timestamp",
                "service:string",
                "instance:string",
                "up:integer",
                "cpu_pct:number",
                "memory_pct:number",
                "disk_pct:number",
            ),
            _cols("probe_ms:number"),
            time_column="ts",
            partitioned=True,
            cadence=timedelta(minutes=5),
            may_be_absent=True,
        ),
    )
}
