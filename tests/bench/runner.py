"""Runs one bench/*.py as `make bench` does (its own process, from the project's root) and
returns the JSON rows it printed and its stderr; a failed run fails the test with the end of its
stderr."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, args: list[str], env: dict, timeout: float) -> tuple[list[dict], str]:
    proc = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return rows, proc.stderr
