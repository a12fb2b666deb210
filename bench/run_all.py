"""`make bench`: run every bench/*.py at full size (or --quick) and print a table of the figures."""

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Modules the benchmarks import, not benchmarks themselves.
SKIP = {
    "__init__.py",
    "common.py",
    "run_all.py",
    "bare_asgi.py",
    "chatload.py",
    "faults_harness.py",
    "keepline_chat.py",
    "keepline_probe.py",
    "profile_report.py",
}
FIRST = "healthz.py"


def main():
    extra = sys.argv[1:]
    rows, failed = [], []
    scripts = sorted(HERE.glob("*.py"), key=lambda p: (p.name != FIRST, p.name))
    for script in scripts:
        if script.name in SKIP:
            continue
        print(f"# {script.name} {' '.join(extra)}", file=sys.stderr, flush=True)
        proc = subprocess.run(
            [sys.executable, str(script), *extra], capture_output=True, text=True, cwd=HERE.parent
        )
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                print(line, flush=True)
                rows.append(json.loads(line))
        if proc.returncode != 0:
            failed.append(script.name)
            print(proc.stderr[-2000:], file=sys.stderr)
    header = (
        f"{'bench':<16} {'metric':<28} {'value':>12} {'unit':<9} "
        f"{'baseline':>12} {'ratio':>7} {'n':>9}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for r in rows:
        base = "" if r["baseline"] is None else f"{r['baseline']:.1f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(
            f"{r['bench']:<16} {r['metric']:<28} {r['value']:>12.1f} {r['unit']:<9} "
            f"{base:>12} {ratio:>7} {r['n']:>9}"
        )
    if failed:
        raise SystemExit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
