"""Write a best-known-solution CSV (``instance,vehicles,cost``) for ``codist bench --bks``.

Inputs, any mix:
- CVRPLIB ``.sol`` files, or directories holding them: the routes (``Route #k: ...``) are
  counted as vehicles, the ``Cost N`` line is the cost; the instance is the file's stem;
- CSV files in any layout :func:`routing.bench.read_bks` reads (``instance,vehicles,cost``,
  ``instance,bks_vehicles,bks_distance,...``, ``...,instance,...,routes,distance,...``).

Rows are written sorted by instance name; a later input overrides an earlier one.

Run: ``.venv/bin/python benchmarks/make_bks_csv.py OUT.csv INPUT [INPUT ...]``, e.g.
``.venv/bin/python benchmarks/make_bks_csv.py benchmarks/bks/x.csv /path/to/x``.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

from routing.bench import read_bks
from routing.errors import InputError


def read_sol(path: Path) -> tuple[int, float]:
    """(number of routes, cost) of a CVRPLIB solution file."""
    routes = 0
    cost: float | None = None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if re.match(r"route\s*#\s*\d+\s*:", text, re.IGNORECASE):
            if text.split(":", 1)[1].split():
                routes += 1
        elif text.lower().startswith("cost"):
            try:
                cost = float(text.split()[1])
            except (IndexError, ValueError):
                raise InputError("file", f"{path.name} line {number}: bad cost line") from None
    if cost is None or routes == 0:
        raise InputError("file", f"{path.name}: needs 'Route #k:' lines and a 'Cost' line")
    return routes, cost


def collect(inputs: list[Path]) -> dict[str, tuple[int | None, float]]:
    out: dict[str, tuple[int | None, float]] = {}
    for item in inputs:
        if item.is_dir():
            sols = sorted(item.glob("*.sol"))
            if not sols:
                raise InputError("input", f"{item} holds no .sol file")
            for sol in sols:
                out[sol.stem] = read_sol(sol)
        elif item.suffix.lower() == ".sol":
            out[item.stem] = read_sol(item)
        else:
            out.update(read_bks(item))
    return out


def fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="CSV file to write")
    parser.add_argument("inputs", type=Path, nargs="+", help=".sol files, directories, CSVs")
    args = parser.parse_args(argv)
    try:
        rows = collect(args.inputs)
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["instance", "vehicles", "cost"])
        for name in sorted(rows):
            vehicles, cost = rows[name]
            writer.writerow([name, "" if vehicles is None else vehicles, fmt(cost)])
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
