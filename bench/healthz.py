"""Requests per second on /healthz through daphne, beside a bare ASGI app on the same daphne."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Daphne, emit, http_load  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seconds, concurrency = (3, 8) if args.quick else (10, 16)
    with Daphne("bench.bare_asgi:app") as bare:
        http_load(bare.port, "/", 1, concurrency)  # warm-up
        bare_rps, _ = http_load(bare.port, "/", seconds, concurrency)
    with Daphne("config.asgi:application", env={"DEBUG": "true"}) as keepline:
        http_load(keepline.port, "/healthz", 1, concurrency)
        rps, statuses = http_load(keepline.port, "/healthz", seconds, concurrency)
    if set(statuses) != {200}:
        raise SystemExit(f"/healthz answered {statuses}, not only 200")
    emit("healthz", "healthz_rps", rps, "req/s", sum(statuses.values()), baseline=bare_rps)


if __name__ == "__main__":
    main()
