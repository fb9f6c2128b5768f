"""The README's Python section runs as written against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import ROOT


def test_the_readme_python_block_runs_as_written(server) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    result = subprocess.run(
        [sys.executable, "-c", block],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, MODELWATCH_URL=server.url),
    )
    assert result.returncode == 0, result.stderr
    assert "569" in result.stdout  # every row of breast_cancer was logged
