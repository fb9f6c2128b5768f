"""Samples of this process's resource use for ``POST .../telemetry``: CPU and resident
memory with psutil, GPU utilisation and memory with pynvml when it is importable and
finds a GPU. Without psutil there is no sampler: sampling turns itself off silently.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

_log = logging.getLogger("modelwatch")

#: Seconds between two samples.
SAMPLE_SECONDS = 10.0


def default_instance() -> str:
    """The instance name of this process: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"[:256]


def _gpu() -> Callable[[], dict[str, float]] | None:
    """A reader of the first GPU's utilisation and memory, or ``None``."""
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        if pynvml.nvmlDeviceGetCount() < 1:
            return None
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    except Exception:  # noqa: BLE001 - no NVML, no driver or no GPU: no GPU fields
        return None

    def read() -> dict[str, float]:
        rates = pynvml.nvmlDeviceGetUtilizationRates(handle)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        return {"gpu_utilization": rates.gpu / 100.0, "gpu_memory_bytes": float(memory.used)}

    return read


def process_sampler(
    instance: str | None = None, version: str | None = None
) -> Callable[[], dict[str, Any] | None] | None:
    """A function that returns one telemetry sample of this process, or ``None`` when
    psutil is not installed.
    """
    try:
        import psutil
    except ImportError:
        return None
    process = psutil.Process()
    process.cpu_percent(None)  # the first call only starts the measurement
    gpu = _gpu()
    name = instance or default_instance()

    def sample() -> dict[str, Any] | None:
        try:
            record: dict[str, Any] = {
                "timestamp": int(time.time() * 1000),
                "instance": name,
                "cpu_percent": float(process.cpu_percent(None)),
                "memory_bytes": float(process.memory_info().rss),
            }
            if version is not None:
                record["version"] = version
            if gpu is not None:
                record.update(gpu())
            return record
        except Exception as error:  # noqa: BLE001 - a failed sample is skipped, never raised
            _log.debug("modelwatch: no resource sample: %s", error)
            return None

    return sample
