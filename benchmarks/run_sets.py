"""Run `codist bench` over whole benchmark sets and summarise.

    .venv/bin/python benchmarks/run_sets.py --bench-dir ../shared/bench [--sets solomon lilim x]
        [--jobs 2] [--time-limit-solomon 10] [--time-limit-lilim 10] [--time-limit-x 30]

Each instance is one `codist bench` process on one core; ``--jobs`` instances run side by
side (one per core). Results go to benchmarks/results/<set>.jsonl (one JSON line per
instance, as `codist bench --json` prints them) and a summary is printed: instances,
feasible count, mean gap to the best-known values, mean vehicles against best-known
vehicles, mean seconds (the time limit holds when this stays within 10 % of it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SETS = {
    "solomon": ("solomon/*.vrptw", "solomon.csv"),
    "lilim": ("lilim/*.txt", "lilim.csv"),
    "x": ("x/X-n*.vrp", "x.csv"),
}


def run_one(path: Path, time_limit: float, bks: Path, seed: int) -> dict[str, Any]:
    codist = Path(sys.executable).with_name("codist")
    cmd = [str(codist), "bench", str(path), "--time-limit", str(time_limit), "--json"]
    cmd += ["--bks", str(bks), "--seed", str(seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"instance": path.stem, "error": proc.stderr.strip()}
    row: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return row


def summarise(name: str, rows: list[dict[str, Any]], time_limit: float) -> None:
    ok = [r for r in rows if "error" not in r]
    gaps = [r["gap_pct"] for r in ok if r.get("gap_pct") is not None]
    feasible = sum(1 for r in ok if r["feasible"])
    vehicles = [r["vehicles"] for r in ok]
    bks_vehicles = [r.get("bks_vehicles") for r in ok if r.get("bks_vehicles") is not None]
    seconds = [r["seconds"] for r in ok]
    print(f"== {name}: {len(rows)} instances, {feasible} feasible, {len(rows) - len(ok)} errors")
    if gaps:
        print(f"   mean gap {sum(gaps) / len(gaps):.2f} % (max {max(gaps):.2f} %)")
    if vehicles:
        mean_v = sum(vehicles) / len(vehicles)
        line = f"   mean vehicles {mean_v:.2f}"
        if bks_vehicles and len(bks_vehicles) == len(vehicles):
            line += f" (best-known {sum(bks_vehicles) / len(bks_vehicles):.2f})"
        print(line)
    if seconds:
        print(
            f"   seconds mean {sum(seconds) / len(seconds):.2f}, max {max(seconds):.2f} "
            f"(limit {time_limit})"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bench-dir", type=Path, required=True)
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit-solomon", type=float, default=10.0)
    ap.add_argument("--time-limit-lilim", type=float, default=10.0)
    ap.add_argument("--time-limit-x", type=float, default=30.0)
    ap.add_argument("--max-customers-x", type=int, default=300)
    args = ap.parse_args()
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    for name in args.sets:
        pattern, bks_name = SETS[name]
        paths = sorted(args.bench_dir.glob(pattern))
        if name == "x":
            paths = [p for p in paths if int(p.stem.split("-n")[1].split("-")[0]) - 1
                     <= args.max_customers_x]  # fmt: skip
        limit = getattr(args, f"time_limit_{name}")
        bks = HERE / "bks" / bks_name
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            rows = list(
                pool.map(run_one, paths, [limit] * len(paths), [bks] * len(paths),
                         [args.seed] * len(paths))
            )  # fmt: skip
        with (out_dir / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
        summarise(name, rows, limit)


if __name__ == "__main__":
    main()
