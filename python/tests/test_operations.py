"""Resource use and logs from Python against the real server: a child process (a real
process of its own) ships its log records through `mw.logging_handler` and its resource
samples through the client's background sampler, and they read back: levels, templates,
crashes, and the process's own pid and memory."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import modelwatch as mw

CHILD = textwrap.dedent(
    """
    import json, logging, os, sys
    import modelwatch as mw

    m = mw.Client(sys.argv[1]).model("svc")
    log = logging.getLogger("svc")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(mw.logging_handler(m))
    log.debug("cache warmed with %d entries", 128)
    log.info("loaded model in %.2fs", 1.25)
    log.warning("slow request %d ms", 900)
    for i in range(3):
        log.error("timeout after %d ms calling 10.0.0.%d", 1000 + i, i + 1)
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("scoring failed for request %s", "'p-12'")
    log.critical("worker crashed: out of memory")
    m.flush(timeout=60)
    print(json.dumps({"pid": os.getpid(), "stats": m.stats()}))
    """
)


def test_a_process_ships_its_logs_and_resource_use(server, tmp_path) -> None:
    client = mw.Client(server.url, sample_resources=False)
    client.define_model("svc", "regression")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    done = subprocess.run(
        [sys.executable, str(script), server.url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    child = json.loads(done.stdout.strip().splitlines()[-1])
    # 8 log records and at least the first resource sample, all sent.
    stats = child["stats"]
    assert stats["operations_sent"] >= 9 and stats["operations_rejected"] == 0, child
    assert stats["sent"] == 0, "samples and log records are counted apart"

    m = client.model("svc")
    records = m.logs()
    assert list(records["level"].value_counts().sort_index().items()) == [
        ("debug", 1),
        ("error", 4),
        ("fatal", 1),
        ("info", 1),
        ("warn", 1),
    ]
    crash = records[records["level"] == "fatal"].iloc[0]
    assert crash["message"] == "worker crashed: out of memory"
    assert crash["instance"].endswith(f":{child['pid']}")
    assert crash["attributes"]["logger"] == "svc"
    failed = records[records["message"].str.startswith("scoring failed")].iloc[0]
    assert "ZeroDivisionError" in failed["message"], "the traceback is part of the message"
    assert failed["level"] == "error"

    patterns = m.log_patterns().set_index("template")["count"].to_dict()
    assert patterns["timeout after <num> ms calling <num>"] == 3
    assert patterns["slow request <num> ms"] == 1
    assert patterns["loaded model in <num>s"] == 1
    found = m.logs(level="error,fatal", q="TIMEOUT")
    assert len(found) == 3

    summary = m.metrics(step=None)
    row = summary.iloc[0]
    assert row["log_errors"] == 5 and row["crashes"] == 1
    assert row["logs_debug"] == 1 and row["logs_warn"] == 1
    # The child's own resource sample: one instance (its host:pid), its resident memory.
    assert row["instances"] == 1
    assert row["memory_bytes_max"] > 10e6
    assert row["cpu_percent_max"] >= 0


def test_emit_never_raises_and_never_blocks(server) -> None:
    client = mw.Client(server.url, max_queue=2, sample_resources=False)
    m = client.define_model("tiny", "regression")
    handler = mw.logging_handler(m)
    log = logging.getLogger("tiny")
    log.propagate = False
    log.addHandler(handler)
    try:
        for i in range(50):
            log.error("burst %d", i)
        log.error("a bad %s", "format", "with", "extra args")  # a formatting error is dropped
    finally:
        log.removeHandler(handler)
    stats = m.stats()
    assert stats["operations_dropped"] > 0, "a full queue drops records instead of blocking"
    assert stats["dropped"] == 0, "the caller's own records are counted apart"
    m.flush(timeout=60)


def test_telemetry_can_be_logged_by_hand(server) -> None:
    client = mw.Client(server.url, sample_resources=False)
    m = client.define_model("gpu", "regression")
    for cpu in (20.0, 60.0):
        assert m.log_telemetry(
            instance="pod-1", cpu_percent=cpu, gpu_utilization=0.5, timestamp=1_710_151_200_000
        )
    m.flush(timeout=60)
    row = m.metrics(step=None).iloc[0]
    assert row["cpu_percent_mean"] == 40.0 and row["gpu_utilization_mean"] == 0.5
