"""``codist simulate``: scenarios over a range of days, then the report."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from routing.errors import InputError

__all__ = ["add_simulate_command", "cmd_simulate"]

RUN_KEYS = (
    "scenario",
    "from",
    "to",
    "days_done",
    "days_total",
    "computed",
    "resumed_days",
    "seconds",
    "fan_out",
)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


class _Bar:
    """A progress bar on stderr: days done of all, and the time left at this pace."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.first: int | None = None

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self.enabled:
            return
        if self.first is None:
            self.first = done
        width = 28
        filled = int(width * done / total) if total else width
        spent = time.perf_counter() - self.t0
        fresh = done - self.first
        left = ""
        if fresh and done < total:
            left = f", about {(total - done) * spent / fresh / 60:.1f} min left"
        sys.stderr.write(
            f"\r{label:<22} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} day plans"
            f"  {spent:5.0f} s{left}   "
        )
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulations.run import run_scenario
    from simulations.scenario import load_scenario

    scenarios = [load_scenario(name) for name in args.scenario]
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise InputError("SCENARIO", "a scenario is named twice")
    if args.time_limit is not None:
        if not args.time_limit > 0:
            raise InputError("--time-limit", "must be > 0 seconds")
        scenarios = [replace(s, time_limit=args.time_limit) for s in scenarios]
    if args.workers < 0:
        raise InputError("--workers", "must be >= 0 (0: one per CPU)")
    if args.start and args.end and args.end < args.start:
        raise InputError("--to", "is before --from")
    redis_url = os.environ.get("REDIS_URL") or None
    out: Path = args.out
    runs = []
    bar = _Bar(enabled=not args.json)
    for scenario in scenarios:
        runs.append(
            run_scenario(
                scenario,
                out,
                start=args.start,
                end=args.end,
                workers=args.workers,
                redis_url=redis_url,
                progress=bar,
            )
        )
    from simulations.report import write_report

    html = write_report(out, names)
    doc: dict[str, Any] = {
        "report": str(html),
        "runs": [{k: r[k] for k in RUN_KEYS} for r in runs],
    }
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        for r in doc["runs"]:
            print(
                f"{r['scenario']}: {r['days_done']}/{r['days_total']} days "
                f"({r['from']} to {r['to']}), "
                f"{r['computed']} simulated now, {r['resumed_days']} kept from before, "
                f"{r['seconds']} s ({r['fan_out']})"
            )
        print(f"report: {html}")
    return 0


def add_simulate_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """``codist simulate SCENARIO... [--from D --to D] [--time-limit S] [--workers N]
    [--out DIR]``."""
    sim = sub.add_parser(
        "simulate",
        parents=[common],
        help="simulate scenarios over days (simulations/scenarios/) and write the report",
    )
    sim.add_argument(
        "scenario",
        nargs="+",
        metavar="SCENARIO",
        help="a scenario name or .toml file (several: compared)",
    )
    sim.add_argument(
        "--from", dest="start", type=_date, default=None, help="first day (default: the scenario's)"
    )
    sim.add_argument(
        "--to", dest="end", type=_date, default=None, help="last day (default: the scenario's)"
    )
    sim.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="a day's cap on solving, seconds (default: the scenario's)",
    )
    sim.add_argument(
        "--workers",
        type=int,
        default=0,
        help="local processes (default: one per CPU; with REDIS_URL: codist worker)",
    )
    sim.add_argument("--out", type=Path, default=Path("out/simulations"), help="output folder")
    sim.set_defaults(func=cmd_simulate)
