"""The real `modelwatch serve` binary on a free port, per test that asks for one."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def binary() -> str:
    path = os.environ.get("MODELWATCH_BIN") or str(ROOT / "target" / "debug" / "modelwatch")
    assert Path(path).exists(), (
        f"build the server first (cargo build), or set MODELWATCH_BIN: {path}"
    )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, tmp: Path, config: str = "") -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [
            binary(),
            "serve",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--data-dir",
            str(tmp / "data"),
        ]
        if config:
            path = tmp / "modelwatch.toml"
            path.write_text(config)
            args += ["--config", str(path)]
        # The log goes to a file: a pipe nobody reads fills up under load (a 503 storm logs
        # a line per refusal) and then blocks the server, shutdown included.
        self.log_path = tmp / "server.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log)
        for _ in range(600):
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return
            except OSError:
                assert self.process.poll() is None, self.log_path.read_text()
                time.sleep(0.05)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


@pytest.fixture
def server(tmp_path: Path):
    s = Server(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def start_server(tmp_path: Path):
    started = []

    def start(config: str = "") -> Server:
        s = Server(tmp_path / f"s{len(started)}", config)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
