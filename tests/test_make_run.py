"""`make run` says where Keepline listens before daphne starts."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_prints_the_address_before_daphne_starts():
    # -n prints the recipe without running it: no migration, no server.
    out = subprocess.run(
        ["make", "-n", "run", "PORT=8123"], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout.splitlines()
    banner = [i for i, line in enumerate(out) if "Keepline is listening on" in line]
    daphne = [i for i, line in enumerate(out) if "daphne" in line and "-p 8123" in line]
    assert banner and daphne, out
    assert "http://127.0.0.1:8123/" in out[banner[0]]
    assert "rep1" in out[banner[0]]
    assert banner[0] < daphne[0]
