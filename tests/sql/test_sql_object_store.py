"""The data folder on an object store: the fixture tables in a real S3 API (moto_server on loopback), read by the same
Database through s3fs. Same answers as on disk, fingerprints from the listing, the bad-file policy, and a sandbox
that reads only the bucket and prefix."""

from __future__ import annotations

import io
import uuid
from dataclasses import replace

import duckdb
import pandas as pd
import pytest

from dashapp import objectstore
from dashapp.charts import get_chart, render
from dashapp.charts.registry import chart_version
from dashapp.db import Database
from dashapp.errors import DataUnavailable
from tests.browser.server import MotoServer, free_port, wait_for
from tests.fixtures import ALL, DAY4, predictions

BUCKET = "logs"
WINDOW = {"start": [f"{ALL['start']:%Y-%m-%d}"], "end": [f"{ALL['end']:%Y-%m-%d}"]}


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto, monkeypatch):
    """The standard AWS variables pointing at moto, as a deployment sets them; every scan lists (none is answered from
    an earlier listing), so a test sees what it just put."""
    for name, value in moto.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(objectstore, "LISTING_SECONDS", 0)
    monkeypatch.setattr(objectstore, "LISTING_STALE_SECONDS", 0)
    return moto


@pytest.fixture
def s3_url(aws, _fixture_tables) -> str:
    """The fixture tables under a prefix of their own (tests add, break and delete objects)."""
    return aws.upload(_fixture_tables, BUCKET, f"t-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def s3_db(s3_url, config) -> Database:
    return Database(replace(config, data_dir=s3_url))


def put(moto: MotoServer, url: str, relative: str, data: bytes) -> None:
    moto.filesystem().pipe_file(f"{url.removeprefix('s3://')}/{relative}", data)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


@pytest.mark.parametrize("chart", ["ops.latency", "ops.throughput", "ops.pipeline_runs", "overview.volume"])
def test_a_chart_over_the_object_store_has_the_same_data_as_over_the_same_files_on_disk(s3_db, db, chart):
    spec = get_chart(chart)
    remote, local = render(spec, WINDOW, s3_db), render(spec, WINDOW, db)
    assert len(local.data) > 0
    pd.testing.assert_frame_equal(remote.data, local.data)


def test_the_fingerprint_comes_from_the_listing_and_moves_when_an_object_is_rewritten(aws, s3_url, s3_db):
    before = s3_db.scan(["predictions"])["predictions"]
    path, size, version = before.files[0]
    assert path == f"{s3_url}/predictions/dt=2024-03-01/part-0.parquet" and size > 0
    assert "@" in version and len(version.split("@")[0]) >= 32  # the ETag, then the last-modified time
    put(aws, s3_url, "predictions/dt=2024-03-01/part-0.parquet", parquet_bytes(predictions().iloc[:2]))
    after = s3_db.scan(["predictions"])["predictions"]
    assert after.fingerprint != before.fingerprint


def test_a_new_object_moves_the_panels_version_and_is_read_at_the_next_listing(aws, s3_url, s3_db):
    frame = predictions().iloc[[0]].assign(ts=pd.Timestamp(DAY4), request_id="new-0")
    frame["ts"] = frame["ts"].astype("datetime64[us]")
    spec, window = get_chart("ops.throughput"), {"start": [f"{ALL['start']:%Y-%m-%d}"], "end": ["2024-03-05"]}
    version, before = chart_version(spec, window, s3_db), render(spec, window, s3_db).data
    assert chart_version(spec, window, s3_db) == version  # nothing new: auto-refresh redraws nothing
    put(aws, s3_url, "predictions/dt=2024-03-04/part-0.parquet", parquet_bytes(frame))
    assert chart_version(spec, window, s3_db) != version  # what auto-refresh compares: the panel redraws
    after = render(spec, window, s3_db).data
    assert after["requests"].sum() == before["requests"].sum() + 1


def test_an_older_listing_answers_at_once_while_a_new_one_is_made_in_the_background(aws, s3_url, s3_db, monkeypatch):
    assert len(s3_db.scan(["predictions"])["predictions"].files) == 3
    monkeypatch.setattr(objectstore, "LISTING_STALE_SECONDS", 60)
    put(aws, s3_url, "predictions/dt=2024-03-04/part-0.parquet", parquet_bytes(predictions().iloc[:1]))
    assert len(s3_db.scan(["predictions"])["predictions"].files) == 3  # the listing before the new object
    wait_for(lambda: len(s3_db.scan(["predictions"])["predictions"].files) == 4, "the listing made in the background")


def test_objects_being_published_are_invisible(aws, s3_url, s3_db):
    put(aws, s3_url, "predictions/dt=2024-03-04/.part-0.parquet", b"half written")
    put(aws, s3_url, "predictions/_SUCCESS", b"")
    source = s3_db.scan(["predictions"])["predictions"]
    assert len(source.files) == 3 and not source.skipped


def test_a_broken_object_is_skipped_and_named_relative_to_the_prefix(aws, s3_url, s3_db):
    put(aws, s3_url, "predictions/dt=2024-03-02/part-0.parquet", b"not parquet at all")
    (note,) = s3_db.skipped_notes(["predictions"])
    assert note.startswith("partial data: predictions skips 1 of 3 files (predictions/dt=2024-03-02/part-0.parquet:")
    assert "not a readable parquet file" in note and "s3://" not in note
    assert len(s3_db.run("ops_pipeline_runs", **ALL)) == 7  # the other tables read on


# Each must fail: the objects exist, but outside the bucket and prefix the portal reads.
ESCAPES = {
    "another bucket": "SELECT * FROM read_parquet('s3://other-bucket/logs/pipeline_runs.parquet')",
    "another prefix": "SELECT * FROM read_parquet('s3://logs/elsewhere/pipeline_runs.parquet')",
    "a prefix that starts alike": "SELECT * FROM read_parquet('{url}-twin/pipeline_runs.parquet')",
    "climbing out of the prefix": "SELECT * FROM read_parquet('{url}/../elsewhere/pipeline_runs.parquet')",
    "a glob over the bucket": "SELECT * FROM glob('s3://logs/*')",
    "writing into the prefix": "COPY (SELECT 42 AS answer) TO '{url}/planted.parquet'",
    "a local file": "SELECT * FROM read_csv('/etc/passwd')",
}


@pytest.mark.parametrize("statement", list(ESCAPES.values()), ids=list(ESCAPES))
def test_the_sandbox_reads_only_the_bucket_and_prefix(aws, s3_url, s3_db, _fixture_tables, statement):
    single = (_fixture_tables / "pipeline_runs.parquet").read_bytes()
    fs = aws.filesystem()
    if not fs.exists("other-bucket"):
        fs.mkdir("other-bucket")
    for url in ("s3://other-bucket/logs", "s3://logs/elsewhere", f"{s3_url}-twin"):
        put(aws, url, "pipeline_runs.parquet", single)
    s3_db.run("ops_pipeline_runs", **ALL)  # the connection is open and serving
    with pytest.raises(duckdb.Error):
        s3_db.sandbox.connection().execute(statement.format(url=s3_url)).fetchall()
    assert not fs.exists(f"{s3_url.removeprefix('s3://')}/planted.parquet")
    assert len(s3_db.run("ops_pipeline_runs", **ALL)) == 7


def test_the_sandbox_still_reads_the_prefix_and_names_it_as_the_allowed_directory(s3_url, s3_db):
    con = s3_db.sandbox.connection()
    assert con.execute(f"SELECT count(*) FROM read_parquet('{s3_url}/pipeline_runs.parquet')").fetchone() == (10,)
    assert s3_db.settings()["enable_external_access"] == "false"
    assert f"{s3_url}/" in str(con.execute("SELECT current_setting('allowed_directories')").fetchone()[0])


def test_a_store_that_does_not_answer_makes_every_table_unavailable_without_the_secret(
    aws, config, monkeypatch, caplog
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    db = Database(replace(config, data_dir=f"s3://{BUCKET}/nowhere-{uuid.uuid4().hex[:6]}"))
    assert db.storage.state() == "unreachable"
    with pytest.raises(DataUnavailable) as raised:
        db.run("ops_pipeline_runs", **ALL)
    assert raised.value.reason.startswith("the object store cannot be reached: ")
    assert aws.secret not in raised.value.reason and aws.secret not in caplog.text
    assert db.scan(["predictions"]) == {"predictions": None}


def test_an_empty_prefix_is_not_there(aws, config):
    db = Database(replace(config, data_dir=f"s3://{BUCKET}/empty-{uuid.uuid4().hex[:6]}"))
    assert db.storage.state() == "not there"
    with pytest.raises(DataUnavailable, match="nothing is stored under s3://logs/empty-"):
        db.run("ops_pipeline_runs", **ALL)
