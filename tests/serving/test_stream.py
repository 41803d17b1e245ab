"""The stream consumer through a real redis-server: events in, predictions out, at least
once; dead letters; crashes, lost connections and restarts; ``loopml stream``."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
import redis
from sklearn.pipeline import Pipeline

from loopml.cli import main
from loopml.config import Settings
from loopml.domain.deployments import TrafficPolicy
from loopml.serving._live import ModelSource, ModelUriSource
from loopml.serving._predlog_query import predictions
from loopml.serving._router import Router
from loopml.serving._stream import StreamConsumer, StreamStats
from loopml.serving._stream_redis import StreamLink
from loopml.serving._stream_run import run_stream
from loopml.tracking import Client
from tests._services.net import free_port
from tests._services.redis import RedisServer, redis_server
from tests.serving._helpers import (
    ListSink,
    PolicySource,
    frame,
    register,
    serving_settings,
    set_alias,
    wait_for,
)

IN, OUT, DEAD = "in", "out", "in:dead"
ROW = {"age": 41, "income": 52.5, "plan": "pro"}


class Crash(BaseException):
    """Stands for the process dying at the point where it is raised."""


# -- fixtures and helpers -------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with redis_server() as started:
        yield started


@pytest.fixture
def r(server: RedisServer) -> Iterator[redis.Redis]:
    client = server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[Pipeline]]:
    """churn versions 1 and 2, champion → 1 (never moved: tests that move it have their own)."""
    home = tmp_path_factory.mktemp("stream") / ".loopml"
    home.mkdir()
    settings = serving_settings(home)
    models = register(settings, seeds=(0, 1))
    set_alias(settings, "champion", 1)
    return settings, models


@pytest.fixture
def settings(registered: tuple[Settings, list[Pipeline]]) -> Settings:
    return registered[0]


@pytest.fixture
def models(registered: tuple[Settings, list[Pipeline]]) -> list[Pipeline]:
    return registered[1]


def make(
    settings: Settings,
    server: RedisServer,
    source: ModelSource | str = "churn@champion",
    **options: Any,
) -> StreamConsumer:
    if isinstance(source, str):
        source = ModelUriSource(source)
    options.setdefault("block_ms", 50)
    return StreamConsumer(source, server.url, IN, OUT, settings=settings, **options)


@contextmanager
def consuming(consumer: StreamConsumer, start: bool = True) -> Iterator[StreamConsumer]:
    """``consumer`` running in a thread until the block ends; its error is re-raised."""
    if start:
        consumer.start()
    failed: list[BaseException] = []

    def run() -> None:
        try:
            consumer.run()
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield consumer
    finally:
        consumer.stop()
        thread.join(30)
    assert not thread.is_alive()
    if failed:
        raise failed[0]


def records(rows: int, seed: int = 3) -> list[dict[str, Any]]:
    return frame(rows, seed).to_dict("records")


def produce(r: redis.Redis, items: list[dict[str, Any]], **extra: str) -> list[str]:
    """One event per record; returns the message ids."""
    pipe = r.pipeline(transaction=False)
    for item in items:
        pipe.xadd(IN, {"data": orjson.dumps(item, option=orjson.OPT_SERIALIZE_NUMPY), **extra})
    return [entry_id.decode() for entry_id in pipe.execute()]


def entries(r: redis.Redis, stream: str = OUT) -> list[dict[str, str]]:
    return [
        {key.decode(): value.decode(errors="replace") for key, value in fields.items()}
        for _, fields in r.xrange(stream)
    ]


def pending(r: redis.Redis, group: str = "loopml") -> int:
    return int(r.xpending(IN, group)["pending"])


def predicted(model: Pipeline, items: list[dict[str, Any]]) -> list[int]:
    return [int(p) for p in model.predict(pd.DataFrame(items))]


def answered(r: redis.Redis, ids: list[str]) -> bool:
    return set(ids) <= {entry["input_id"] for entry in entries(r)}


# -- events in, predictions out ----------------------------------------------------------


def test_each_event_gets_its_prediction_in_the_output_stream(
    r: redis.Redis, server: RedisServer, settings: Settings, models: list[Pipeline]
) -> None:
    items = records(50)
    ids = produce(r, items)
    consumer = make(settings, server, from_start=True, batch_size=16)
    with consuming(consumer):
        wait_for(lambda: len(entries(r)) == 50, what="50 predictions")
    out = entries(r)
    assert [e["input_id"] for e in out] == ids
    assert [orjson.loads(e["prediction"]) for e in out] == predicted(models[0], items)
    assert {key: value for key, value in out[0].items() if key != "prediction"} == {
        "input_id": ids[0],
        "request_id": ids[0],
        "model": "churn",
        "version": "1",
        "target": "champion",
    }
    assert pending(r) == 0 and r.xlen(DEAD) == 0
    # 50 events already waiting, read 16 at a time: 4 micro-batches.
    assert consumer.stats.batches == 4 and consumer.stats.processed == 50


def test_the_group_is_created_at_the_end_of_the_stream_unless_from_start(
    r: redis.Redis, server: RedisServer, settings: Settings
) -> None:
    before = produce(r, records(3))
    with consuming(make(settings, server, consumer="c1")):
        after = produce(r, records(2, seed=4))
        wait_for(lambda: answered(r, after), what="the new events")
    assert {e["input_id"] for e in entries(r)} == set(after)
    groups = r.xinfo_groups(IN)
    assert [g["name"] for g in groups] == [b"loopml"]
    assert [c["name"] for c in r.xinfo_consumers(IN, "loopml")] == [b"c1"]
    with consuming(make(settings, server, group="replay", from_start=True)):
        wait_for(lambda: r.xlen(OUT) == 7, what="the replay of every event")
    assert set(before) <= {e["input_id"] for e in entries(r)}


def test_request_id_and_key_are_carried_to_the_output_and_the_log(
    r: redis.Redis, server: RedisServer, settings: Settings, models: list[Pipeline]
) -> None:
    sink = ListSink()
    given = r.xadd(IN, {"data": orjson.dumps(ROW), "request_id": "req-1", "key": "u7"}).decode()
    plain = produce(r, [ROW])[0]
    consumer = make(settings, server, sink=sink, from_start=True)
    with consuming(consumer):
        wait_for(lambda: r.xlen(OUT) == 2, what="2 predictions")
    first, second = entries(r)
    assert (first["input_id"], first["request_id"], first["key"]) == (given, "req-1", "u7")
    assert (second["request_id"], "key" in second) == (plain, False)
    assert sink.closed
    logged = {record.request_id: record for record in sink.records}
    assert set(logged) == {"req-1", plain}
    record = logged["req-1"]
    assert record.inputs == [ROW] and record.outputs == predicted(models[0], [ROW])
    assert (record.model, record.version, record.target, record.deployment) == (
        "churn",
        1,
        "champion",
        None,
    )


def test_the_key_routes_sticky_and_shadows_are_logged(
    r: redis.Redis, server: RedisServer, settings: Settings, models: list[Pipeline]
) -> None:
    policy = TrafficPolicy.of({"1": 50, "2": 50}, shadows=["champion"], sticky_key="user")
    keys = [f"user-{i}" for i in range(20)]
    pipe = r.pipeline(transaction=False)
    for key in keys * 2:
        pipe.xadd(IN, {"data": orjson.dumps(ROW), "key": key})
    pipe.execute()
    sink = ListSink()
    consumer = make(settings, server, PolicySource(policy), sink=sink, from_start=True)
    with consuming(consumer):
        wait_for(lambda: r.xlen(OUT) == 40, what="40 predictions")
    router = Router(policy)
    versions = {(e["key"], e["version"]) for e in entries(r)}
    assert versions == {(key, router.pick(key)) for key in keys}
    assert {version for _, version in versions} == {"1", "2"}
    record = sink.records[0]
    assert record.deployment == "churn-api" and record.inputs[0]["user"] == "user-0"
    assert record.shadows == {"champion": {"version": 1, "outputs": predicted(models[0], [ROW])}}


# -- dead letters --------------------------------------------------------------------------

BAD_EVENTS: dict[str, tuple[dict[str, bytes], str, list[tuple[str, str]]]] = {
    "bad-json": ({"data": b'{"age": 41,'}, "Field 'data' is not valid JSON", []),
    "not-utf8": ({"data": b'{"plan": "\xc3\x28"}'}, "Field 'data' is not UTF-8 text", []),
    "no-data": ({"key": b"u1"}, "The event has no 'data' field", []),
    "a-list": ({"data": b"[1, 2]"}, "Field 'data' holds a list, not a record", []),
    "event-field": (
        {"data": orjson.dumps(ROW), "source": b"x"},
        "Unexpected field 'source'; an event has only 'data' (required), 'key' and 'request_id'",
        [],
    ),
    "bad-request-id": (
        {"data": orjson.dumps(ROW), "request_id": b"no spaces"},
        "Field 'request_id' must be 1-128 letters",
        [],
    ),
    "wrong-type": (
        {"data": orjson.dumps({**ROW, "age": "old"})},
        "field 'age': expected int64, got text 'old'",
        [("age", "type")],
    ),
    "missing-field": (
        {"data": orjson.dumps({"age": 41, "plan": "pro"})},
        "field 'income': missing; expected float64",
        [("income", "missing")],
    ),
    "extra-field": (
        {"data": orjson.dumps({**ROW, "color": "red"})},
        "field 'color': not a field of the model's signature",
        [("color", "unexpected")],
    ),
    "two-problems": (
        {"data": orjson.dumps({"age": 1.5, "income": None, "plan": "pro"})},
        "The record in 'data' has 2 problems",
        [("age", "type"), ("income", "null")],
    ),
    "model-refuses": (
        {"data": orjson.dumps({**ROW, "plan": "enterprise"})},
        "Version 1 of model 'churn' could not score the input",
        [],
    ),
}


@pytest.fixture(scope="module")
def dead_lettered(
    server: RedisServer, registered: tuple[Settings, list[Pipeline]]
) -> dict[str, Any]:
    """Every bad event between two good ones, all in one batch, consumed once."""
    client = server.client()
    client.flushall()
    bad_ids: dict[str, str] = {}
    good = [produce(client, [ROW])[0]]
    for case, (fields, _, _) in BAD_EVENTS.items():
        bad_ids[client.xadd(IN, fields).decode()] = case  # type: ignore[arg-type]
    good += produce(client, [ROW])
    with consuming(make(registered[0], server, from_start=True)):
        wait_for(lambda: client.xlen(DEAD) == len(BAD_EVENTS), what="every dead letter")
    dead = {bad_ids[fields[b"input_id"].decode()]: fields for _, fields in client.xrange(DEAD)}
    result = {"dead": dead, "good": good, "outputs": entries(client), "pending": pending(client)}
    client.close()
    return result


@pytest.mark.parametrize("case", list(BAD_EVENTS))
def test_a_bad_event_is_dead_lettered_with_the_reason_and_its_fields(
    dead_lettered: dict[str, Any], case: str
) -> None:
    fields, reason, errors = BAD_EVENTS[case]
    entry = dead_lettered["dead"][case]
    assert reason in entry[b"reason"].decode()
    assert (entry[b"stream"], entry[b"group"]) == (IN.encode(), b"loopml")
    assert {k[len(b"original.") :]: v for k, v in entry.items() if k.startswith(b"original.")} == {
        k.encode(): v for k, v in fields.items()
    }
    listed = orjson.loads(entry[b"errors"]) if b"errors" in entry else []
    assert [(e["field"], e["kind"]) for e in listed] == errors


def test_good_events_of_a_batch_with_bad_ones_are_answered_and_all_are_acked(
    dead_lettered: dict[str, Any],
) -> None:
    assert [e["input_id"] for e in dead_lettered["outputs"]] == dead_lettered["good"]
    assert dead_lettered["pending"] == 0


def test_a_message_delivered_too_often_is_dead_lettered(
    r: redis.Redis, server: RedisServer, settings: Settings
) -> None:
    consumer = make(settings, server, consumer="c1", max_deliveries=2)
    consumer.start()  # creates the group at the end of the stream
    poison = produce(r, [ROW])[0]
    r.xreadgroup("loopml", "c1", {IN: ">"})  # delivered 1, then crashed, twice more
    r.xreadgroup("loopml", "c1", {IN: "0"})
    r.xreadgroup("loopml", "c1", {IN: "0"})
    with consuming(consumer, start=False):
        wait_for(lambda: r.xlen(DEAD) == 1, what="the dead letter")
    (fields,) = entries(r, DEAD)
    assert fields["input_id"] == poison
    assert (
        "Delivered 4 times and never acknowledged (more than max_deliveries=2)" in fields["reason"]
    )
    assert pending(r) == 0 and r.xlen(OUT) == 0


# -- at least once ----------------------------------------------------------------------------


def _crash_between_write_and_ack(monkeypatch: pytest.MonkeyPatch, consumer: StreamConsumer) -> None:
    def crash(self: StreamLink, ids: list[str]) -> int:
        raise Crash

    monkeypatch.setattr(StreamLink, "ack", crash)
    with pytest.raises(Crash):
        consumer.run()
    monkeypatch.undo()


def test_a_consumer_restarted_after_dying_before_its_ack_processes_the_batch_again(
    r: redis.Redis, server: RedisServer, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = produce(r, records(5))
    _crash_between_write_and_ack(
        monkeypatch, make(settings, server, consumer="c1", from_start=True)
    )
    assert [e["input_id"] for e in entries(r)] == ids  # written, never acknowledged
    assert pending(r) == 5
    restarted = make(settings, server, consumer="c1")
    with consuming(restarted):
        wait_for(lambda: r.xlen(OUT) == 10, what="the batch written again")
    assert Counter(e["input_id"] for e in entries(r)) == dict.fromkeys(ids, 2)
    assert pending(r) == 0 and restarted.stats.reclaimed == 5


def test_another_consumer_takes_over_the_messages_of_a_dead_one(
    r: redis.Redis, server: RedisServer, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = produce(r, records(5))
    _crash_between_write_and_ack(
        monkeypatch, make(settings, server, consumer="c1", from_start=True)
    )
    other = make(settings, server, consumer="c2", claim_idle_ms=100)
    with consuming(other):
        wait_for(lambda: r.xlen(OUT) == 10, what="the batch taken over")
    assert Counter(e["input_id"] for e in entries(r)) == dict.fromkeys(ids, 2)
    assert pending(r) == 0 and other.stats.reclaimed == 5


def test_a_stop_lets_the_batch_under_way_finish_write_and_ack(
    r: redis.Redis, server: RedisServer, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import loopml.serving._stream as stream_module

    produce(r, records(5))
    consumer = make(settings, server, from_start=True)
    real = stream_module.score_events

    def stop_while_scoring(*args: Any) -> Any:
        consumer.stop()
        return real(*args)

    monkeypatch.setattr(stream_module, "score_events", stop_while_scoring)
    stats = consumer.run()
    assert (stats.processed, stats.batches, stats.state) == (5, 1, "stopped")
    assert r.xlen(OUT) == 5 and pending(r) == 0


def test_the_output_stream_is_trimmed_to_about_maxlen(
    r: redis.Redis, server: RedisServer, settings: Settings
) -> None:
    ids = produce(r, records(500))
    with consuming(make(settings, server, from_start=True, batch_size=50, maxlen=10)) as consumer:
        wait_for(lambda: consumer.stats.processed == 500, what="500 predictions")
    kept = entries(r)
    assert 10 <= len(kept) < 250  # approximate: Redis trims whole nodes of entries
    assert kept[-1]["input_id"] == ids[-1]


def _kill_blocked_reader(r: redis.Redis) -> None:
    """Kill the connection of the consumer while it waits in XREADGROUP."""

    def blocked() -> list[dict[str, Any]]:
        return [
            client
            for client in r.client_list()
            if client.get("cmd") == "xreadgroup" and "b" in client.get("flags", "")
        ]

    wait_for(blocked, what="a consumer waiting in XREADGROUP")
    r.client_kill_filter(_id=blocked()[0]["id"])


def test_lost_connections_are_retried_and_nothing_is_lost(
    r: redis.Redis, server: RedisServer, settings: Settings
) -> None:
    ids: list[str] = []
    with consuming(make(settings, server, block_ms=1000)) as consumer:
        for round_index in range(3):
            ids += produce(r, records(25, round_index))
            wait_for(lambda so_far=list(ids): answered(r, so_far), what="the events so far")
            _kill_blocked_reader(r)
            wait_for(lambda n=round_index + 1: consumer.stats.reconnects == n, what="a reconnect")
        ids += produce(r, records(25, 9))
        wait_for(lambda: answered(r, ids), what="every event")
    assert consumer.stats.reconnects == 3
    assert pending(r) == 0 and r.xlen(OUT) == len(ids)


def test_a_redis_restart_is_waited_out_and_the_group_created_again(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="loopml")
    with redis_server() as own:
        client = own.client()
        with consuming(make(settings, own)) as consumer:
            wait_for(lambda: client.exists(IN), what="the group")
            first = produce(client, [ROW])
            wait_for(lambda: answered(client, first), what="the first event")
            own.stop()
            wait_for(lambda: consumer.stats.state == "reconnecting", what="reconnecting")
            own.start()  # empty: no persistence
            later = produce(client, records(3))
            wait_for(lambda: answered(client, later), what="the events after the restart")
        client.close()
    assert consumer.stats.reconnects >= 1
    assert "It was created again" in caplog.text


def test_an_alias_moved_while_consuming_swaps_the_model(
    r: redis.Redis, server: RedisServer, home: Path
) -> None:
    own = serving_settings(home)
    models = register(own, seeds=(0, 1))
    set_alias(own, "champion", 1)
    items = records(20)
    with consuming(make(own, server)) as consumer:
        first = produce(r, items)
        wait_for(lambda: answered(r, first), what="the first events")
        set_alias(own, "champion", 2)
        wait_for(lambda: consumer.live.snapshot.versions == {"champion": 2}, what="the swap")  # type: ignore[union-attr]
        later = produce(r, items)
        wait_for(lambda: answered(r, later), what="the later events")
    out = entries(r)
    assert {e["version"] for e in out[:20]} == {"1"} and {e["version"] for e in out[20:]} == {"2"}
    assert [orjson.loads(e["prediction"]) for e in out[20:]] == predicted(models[1], items)


# -- loopml stream -----------------------------------------------------------------------------


def test_run_stream_logs_every_prediction_and_stops_on_sigterm(
    r: redis.Redis, server: RedisServer, home: Path
) -> None:
    own = serving_settings(home)
    models = register(own)
    set_alias(own, "champion", 1)
    items = records(5)
    ids = produce(r, items)
    before = signal.getsignal(signal.SIGTERM)

    def progress(stats: StreamStats) -> None:
        if stats.processed == len(ids):
            os.kill(os.getpid(), signal.SIGTERM)  # caught: the consumer stops

    stats = run_stream(
        "churn@champion",
        settings=own,
        redis_url=server.url,
        in_stream=IN,
        out_stream=OUT,
        on_progress=progress,
        from_start=True,
        block_ms=50,
    )
    assert (stats.processed, stats.state) == (5, "stopped")
    assert signal.getsignal(signal.SIGTERM) == before
    client = Client(own, capture_environment=False)
    try:
        logged = predictions("churn", client=client)
    finally:
        client.close()
    assert list(logged["request_id"]) == ids
    assert list(logged["output"]) == predicted(models[0], items)
    assert set(logged["version"]) == {1} and pending(r) == 0


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"--source": "http://127.0.0.1:6379"}, "is not a Redis URL", id="bad-url"),
        pytest.param({"--source": "redis://127.0.0.1:notaport"}, "is not a Redis URL", id="port"),
        pytest.param({"--source": "unreachable"}, "Cannot reach Redis at", id="unreachable"),
        pytest.param({"target": "nope@champion"}, "nope", id="unknown-model"),
        pytest.param({"target": "churn@nope"}, "no alias 'nope'", id="unknown-alias"),
        pytest.param({"target": "churn@Bad!"}, "Invalid model URI", id="bad-uri"),
        pytest.param({"--out": IN}, "streams are both 'in'", id="same-streams"),
        pytest.param({"--dead-letter": OUT}, "streams are both 'out'", id="dead-is-out"),
        pytest.param({"--group": " "}, "consumer group name ' ' is invalid", id="blank-group"),
        pytest.param({"string-key": OUT}, "holds a string, not a stream", id="wrong-type"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_changes_nothing(
    r: redis.Redis,
    server: RedisServer,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    message: str,
) -> None:
    options = {"target": "churn@champion", "--source": server.url, "--in": IN, "--out": OUT}
    if change.get("--source") == "unreachable":
        change = {"--source": f"redis://127.0.0.1:{free_port()}"}
    if "string-key" in change:
        r.set(change.pop("string-key"), "x")
    options.update(change)
    target = options.pop("target")
    argv = [item for pair in options.items() for item in pair]
    code, _, err = run_cli(capsys, "--home", str(settings.home), "stream", target, *argv)
    assert code == 2, err
    line = [text for text in err.splitlines() if text.startswith("Error: ")]
    assert len(line) == 1 and message in line[0], err
    assert not r.exists(IN) and not r.exists(DEAD)


@pytest.mark.parametrize(
    "argv",
    [["--batch-size", "0"], ["--maxlen", "0"], ["--max-deliveries", "0"], []],
    ids=["batch-size", "maxlen", "max-deliveries", "no-source"],
)
def test_bad_options_are_usage_errors(
    capsys: pytest.CaptureFixture[str], settings: Settings, argv: list[str]
) -> None:
    source = ["--source", "redis://127.0.0.1:1"] if argv else []
    code, _, err = run_cli(
        capsys, "--home", str(settings.home), "stream", "churn@champion", "--in", IN,
        "--out", OUT, *source, *argv,
    )  # fmt: skip
    assert code == 2 and (argv[0] if argv else "--source") in err


@contextmanager
def stream_process(
    home: Path, url: str, log: Path, *extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    command = [
        str(Path(sys.executable).parent / "loopml"), "--home", str(home), "stream",
        "churn@champion", "--source", url, "--in", IN, "--out", OUT, "--consumer", "w1",
        "--no-log", *extra,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_killed_process_leaves_nothing_behind_once_restarted(
    r: redis.Redis, server: RedisServer, settings: Settings, tmp_path: Path
) -> None:
    total = 5000
    ids = produce(r, records(total))
    home = settings.home
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    options = ("--batch-size", "10", "--from-start", "--maxlen", "100000")
    with stream_process(home, server.url, first_log, *options) as first:
        wait_for(lambda: r.xlen(OUT) >= 100, timeout=60, what="the first predictions")
        first.kill()  # SIGKILL: no batch is finished, nothing is flushed
        first.wait()
    assert r.xlen(OUT) < total, "the process finished before it was killed"
    held = pending(r)
    with stream_process(home, server.url, second_log, *options) as second:
        wait_for(lambda: r.xlen(OUT) >= total and answered(r, ids), timeout=60, what="all")
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, second_log.read_text()
    assert pending(r) == 0
    text = second_log.read_text()
    assert "Consuming in → out" in text and "'w1' of group 'loopml'" in text
    assert f"{held:,} re-read after a failure" in text
    assert "SIGTERM: stopping after the batch under way" in text
