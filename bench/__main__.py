"""Run every benchmark module in turn: ``python -m bench`` (``make bench``)."""

from __future__ import annotations

import importlib
import sys
import time

#: Every benchmark module, run in this order. Each must define ``main(argv: list[str]) -> int``.
MODULES: tuple[str, ...] = (
    "bench.extraction",
    "bench.planner",
    "bench.orchestration",
    "bench.delta",
    "bench.dms_polling",
    "bench.warehouse_load",
)


def main() -> int:
    """Import and run each module of ``MODULES``; the exit code is non-zero if any failed."""
    failed = []
    for name in MODULES:
        print(f"=== {name}", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(name)
        code = module.main([])
        print(f"=== {name} finished in {time.perf_counter() - started:.1f} s (exit {code})", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
