"""Type hints of the Rust extension (crates/python)."""

from typing import Any

__version__: str

class Report:
    """A report computed by core."""

    def json(self) -> str: ...
    def html(self) -> str: ...
    def markdown(self) -> str: ...

def report(
    definition: str,
    reference: dict[str, Any],
    current: dict[str, Any],
    step_ms: int,
    now_ms: int,
) -> Report: ...
def _panic() -> None: ...
