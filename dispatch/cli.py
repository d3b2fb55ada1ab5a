"""`codist`: the command line of the Chuxiong co-distribution platform.

Human-readable output by default; ``--json`` prints one JSON document on stdout, while
logs and progress go to stderr. Bad input gives a one-line message on stderr and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from dispatch.plan.types import LAST_MILE_MODES
from routing.errors import InputError
from routing.network import (
    PLACE_KINDS,
    Place,
    RoadNetwork,
    load_network,
    parse_location,
    read_network,
    resolve,
    shortest_route,
)
from routing.network.datafiles import file_digest, imported_network_path
from routing.network.modeled import modeled_statistics
from routing.network.places import load_counties
from routing.network.speeds import load_speeds

EXIT_INPUT = 2


class CliError(Exception):
    """A usage mistake detected by the CLI itself."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(message)


def _emit(args: argparse.Namespace, doc: Any, human: Callable[[], None]) -> None:
    if args.json:
        json.dump(doc, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        human()


def _network(args: argparse.Namespace) -> RoadNetwork:
    return load_network(args.network, overrides=args.overrides)


def _in_scope_counties() -> set[str]:
    return {c["county_code"] for c in load_counties() if c["in_scope"] == "1"}


# ---- network info ------------------------------------------------------------------------
def cmd_network_info(args: argparse.Namespace) -> int:
    net = _network(args)
    on_net = Counter(p.kind for p in net.places if p.located)
    listed = Counter(p.kind for p in net.places)
    unlocated = [p for p in net.places if not p.located]
    doc: dict[str, Any] = {
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "km": round(net.total_km(), 1),
        "places": {k: on_net.get(k, 0) for k in PLACE_KINDS},
        "source": net.source,
        "description": net.meta.get("description", ""),
        "places_listed": {k: listed.get(k, 0) for k in PLACE_KINDS},
        "unlocated": [
            {"id": p.id, "kind": p.kind, "name_zh": p.name_zh, "county_code": p.county_code}
            for p in unlocated
        ],
        **modeled_statistics(net),
    }
    if "circuity" in net.meta:
        doc["circuity"] = net.meta["circuity"]
    if "osm_trunk" in net.meta:
        doc["osm_trunk"] = net.meta["osm_trunk"]

    def human() -> None:
        print(f"Road network: {net.source}")
        if net.meta.get("description"):
            print(f"  {net.meta['description']}")
        print(f"  {net.n_nodes} nodes, {net.n_edges} road links, {doc['km']:.1f} km of road")
        by_class = ", ".join(f"{k} {v}" for k, v in doc["edges_by_class"].items())
        by_src = ", ".join(f"{k} {v}" for k, v in doc["edges_by_length_source"].items())
        print(f"  links by class: {by_class}")
        print(f"  link lengths: {by_src}")
        km = doc["km_by_length_source"]
        real = km.get("published", 0.0) + km.get("osm", 0.0)
        print(
            f"  km by length: {real:.1f} km real (published road distances "
            f"{km.get('published', 0.0):.1f} km, OpenStreetMap roads {km.get('osm', 0.0):.1f} km), "
            f"{km.get('modeled', 0.0):.1f} km modeled (straight line x circuity)"
        )
        if "osm_trunk" in doc:
            _print_osm_trunk(doc["osm_trunk"])
        if "circuity" in doc:
            c = doc["circuity"]
            for name in ("trunk", "county"):
                s = c[f"{name}_sample"]
                if s:
                    print(
                        f"  circuity {name}: {c['factors'][name]:.2f} (median of {s['n']} "
                        f"published distances; IQR {s['q1']:.2f}-{s['q3']:.2f}, "
                        f"range {s['min']:.2f}-{s['max']:.2f})"
                    )
        print("Places on the network (listed in total):")
        for k in PLACE_KINDS:
            print(f"  {k:<9} {on_net.get(k, 0):>4}  ({listed.get(k, 0)})")
        print(f"Unlocated places ({len(unlocated)}): no published coordinate, not on the network")
        for p in unlocated:
            if p.kind != "village":
                print(f"  {p.kind:<9} {p.id:<13} {p.name_zh} ({p.name_pinyin})")
        villages = Counter(p.county_code for p in unlocated if p.kind == "village")
        if villages:
            per = ", ".join(f"{c}: {n}" for c, n in sorted(villages.items()))
            print(f"  villages by county: {per}")
            print("  (list them with: codist places --kind village --unlocated)")

    _emit(args, doc, human)
    return 0


def _print_osm_trunk(osm: dict[str, Any]) -> None:
    """The trunk links against the OpenStreetMap trunk roads: which follow them, and the
    check of each against its published (else modeled) length."""
    print(
        f"  trunk links on real roads: {osm['links_on_osm']} of {len(osm['links'])} follow "
        f"OpenStreetMap roads ({osm['km_on_osm']:.1f} km; OSM length x {osm['factor']:.3f}, "
        f"calibrated on published distances); {osm['attribution']}"
    )
    print(
        f"    {'from':<11}{'to':<11}{'published':>10}{'modeled':>9}{'OSM':>8}{'snap':>6}"
        f"{'OSM/ref':>9}  length     geometry"
    )
    for r in osm["links"]:
        pub = "-" if r["published_km"] is None else f"{r['published_km']:.1f}"
        print(
            f"    {r['from']:<11}{r['to']:<11}{pub:>10}{r['modeled_km']:>9.1f}{r['osm_km']:>8.1f}"
            f"{r['snap_km']:>6.1f}{r['ratio']:>9.3f}  {r['used']:<10} {r['geometry']}"
        )


# ---- network import ----------------------------------------------------------------------
def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_network_import(args: argparse.Namespace) -> int:
    from routing.network.matrix import hierarchy
    from routing.network.osm_import import import_osm
    from routing.network.places import apply_overrides, load_places

    out: Path = args.out or imported_network_path()
    places = load_places()
    if args.overrides is not None:
        places = apply_overrides(places, args.overrides)
    started = time.perf_counter()
    net = import_osm(args.file, places, progress=_progress)
    if not net.place("WH-CX").located:
        raise InputError(
            "osm_file",
            f"no road of {args.file.name} lies within 5 km of the prefecture warehouse "
            "WH-CX: is this an extract of Chuxiong?",
        )
    net.save(out)
    attached = sum(1 for p in net.places if p.located)
    if not args.skip_hierarchies:
        # Build the matrix hierarchies now (minutes on a prefecture extract) rather than
        # in the middle of the first daily plan.
        saved = read_network(out, digest=file_digest(out))
        for profile in load_speeds().profiles:
            t = time.perf_counter()
            _progress(f"preparing fast matrices for {profile} ...")
            hierarchy(saved, profile)
            _progress(f"  done in {time.perf_counter() - t:.1f} s")
    doc = {
        "file": str(out),
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "km": round(net.total_km(), 1),
        "places_attached": attached,
        "seconds": round(time.perf_counter() - started, 2),
    }

    def human() -> None:
        print(
            f"Imported {args.file}: {net.n_nodes} nodes, {net.n_edges} road links, "
            f"{doc['km']:.1f} km; {attached} places attached. Written to {out}."
        )
        if args.out is None:
            print("It is now the active network; delete that file to return to the modeled one.")

    _emit(args, doc, human)
    return 0


# ---- places ------------------------------------------------------------------------------
def _place_doc(p: Place) -> dict[str, Any]:
    return {
        "id": p.id,
        "kind": p.kind,
        "name_zh": p.name_zh,
        "name_pinyin": p.name_pinyin,
        "county_code": p.county_code,
        "township_code": p.township_code,
        "lon": p.lon,
        "lat": p.lat,
        "located": p.located,
    }


def cmd_places(args: argparse.Namespace) -> int:
    net = _network(args)
    known = {c["county_code"] for c in load_counties()}
    for code in args.county or []:
        if code not in known:
            raise InputError("--county", f"unknown county code {code!r} (known: {sorted(known)})")
    scope = set(args.county) if args.county else _in_scope_counties()
    rows = [
        p
        for p in net.places
        if (args.all or p.county_code in scope or (p.kind == "warehouse" and not args.county))
        and (args.kind is None or p.kind == args.kind)
        and (not args.unlocated or not p.located)
    ]

    def human() -> None:
        for p in rows:
            where = f"{p.lon:.5f},{p.lat:.5f}" if p.lon is not None else "unlocated"
            print(
                f"{p.id:<13} {p.kind:<9} {p.county_code}  {where:<20} {p.name_zh} ({p.name_pinyin})"
            )
        print(f"{len(rows)} places", file=sys.stderr)

    _emit(args, [_place_doc(p) for p in rows], human)
    return 0


# ---- route -------------------------------------------------------------------------------
def cmd_route(args: argparse.Namespace) -> int:
    net = _network(args)
    origin, dest = resolve(
        net, [parse_location(args.origin), parse_location(args.destination)], ["FROM", "TO"]
    )
    route = shortest_route(net, origin, dest, profile=args.profile)
    doc = route.as_dict()
    doc["profile"] = args.profile
    doc["network"] = net.source

    def human() -> None:
        names: dict[int, str] = {}
        for p in sorted(net.places, key=lambda p: PLACE_KINDS.index(p.kind), reverse=True):
            if p.node >= 0:
                names[p.node] = p.name_zh
        via = " -> ".join(names.get(n, f"node {n}") for n in route.nodes)
        hours, rem = divmod(route.duration_s, 3600)

        def label(text: str) -> str:
            loc = parse_location(text)
            return f"{net.place(loc).name_zh} ({loc})" if isinstance(loc, str) else text

        print(
            f"{label(args.origin)} -> {label(args.destination)} by {args.profile}: "
            f"{route.distance_m / 1000:.1f} km, {hours} h {rem // 60:02d} min"
        )
        print(f"  via {via}")
        if net.source == "modeled":
            print("  (modeled road network: distances partly published, partly estimated)")

    _emit(args, doc, human)
    return 0


# ---- solve and bench ---------------------------------------------------------------------
def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise InputError("PROBLEM", f"cannot read {path} ({e.strerror})") from None
    except UnicodeDecodeError:
        raise InputError("PROBLEM", f"{path} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(
            "PROBLEM", f"{path} is not valid JSON ({e.msg} at line {e.lineno})"
        ) from None


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def cmd_solve(args: argparse.Namespace) -> int:
    from routing.run import answer
    from routing.vroom_io import error_document

    if args.time_limit <= 0:
        raise InputError("--time-limit", "must be a positive number of seconds")
    try:
        doc = _read_json(args.problem)
        needs_network = isinstance(doc, dict) and "matrices" not in doc and "matrix" not in doc
        network = _network(args) if needs_network else None
        result = answer(
            doc, time_limit=args.time_limit, seed=args.seed, plan=args.plan, network=network
        )
    except InputError as e:
        if args.json:
            print(json.dumps(error_document(e), ensure_ascii=False))
        raise
    text = json.dumps(result, ensure_ascii=False)
    if args.output is not None:
        _write_atomically(args.output, text + "\n")

    def human() -> None:
        s = result["summary"]
        print(
            f"{s['routes']} routes, {s['unassigned']} unassigned, cost {s['cost']}, "
            f"{s['distance'] / 1000:.1f} km, {s['duration'] / 3600:.2f} h of driving"
        )
        for r in result["routes"]:
            ids = [str(st.get("id")) for st in r["steps"] if st["type"] not in ("start", "end")]
            print(f"  vehicle {r['vehicle']}: {' '.join(ids)}  ({r['distance'] / 1000:.1f} km)")
        for u in result["unassigned"]:
            print(f"  unassigned {u['type']} {u['id']}: {u['reason']} - {u['detail']}")
        if args.output is not None:
            print(f"Solution written to {args.output}", file=sys.stderr)

    _emit(args, result, human)
    return 0


def cmd_warm_up(args: argparse.Namespace) -> int:
    """Compile the numba kernels of the routing search into their on-disk cache, so that
    no solve ever spends its time limit compiling (run once after installing)."""
    from routing.sisr import warm_up

    t0 = time.perf_counter()
    warm_up()
    seconds = time.perf_counter() - t0
    _emit(
        args,
        {"compiled": True, "seconds": round(seconds, 2)},
        lambda: print(f"routing search compiled and cached ({seconds:.1f} s)"),
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from routing.bench import read_bks, run_bench
    from routing.check import check_solution
    from routing.solver import solve

    if args.time_limit <= 0:
        raise InputError("--time-limit", "must be a positive number of seconds")
    bks = read_bks(args.bks) if args.bks is not None else None
    from routing.sisr import warm_up

    warm_up()  # compiled code loads on start, outside every instance's time
    gaps = []
    for n, row in enumerate(
        run_bench(args.files, args.time_limit, args.seed, bks, solve, check_solution), start=1
    ):
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            gap = f"{row['gap_pct']:+.2f} %" if row.get("gap_pct") is not None else ""
            print(
                f"{row['instance']:<14} cost {row['cost']:>12} vehicles {row['vehicles']:>3} "
                f"{'feasible' if row['feasible'] else 'INFEASIBLE':<10} {row['seconds']:>6.1f} s "
                f"{gap}",
                flush=True,
            )
        if row.get("gap_pct") is not None:
            gaps.append(row["gap_pct"])
        _progress(f"[{n}/{len(args.files)}] {row['instance']} done")
    if gaps:
        _progress(f"mean gap {sum(gaps) / len(gaps):.2f} % over {len(gaps)} instances")
    return 0


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"--date: not a date (YYYY-MM-DD): {text!r}") from None


def cmd_plan(args: argparse.Namespace) -> int:
    """Plan one day of shared delivery; write the summary and the route sheets."""
    from dispatch.io.day import load_day, served_counties
    from dispatch.plan.day import PlanOptions, Progress, plan_day
    from dispatch.report.sheets import write_route_sheets
    from dispatch.report.summary import route_sheets, summary, unassigned_rows, write_json

    if args.time_limit <= 0:
        raise CliError("--time-limit must be > 0 seconds")
    served = served_counties()
    for code in args.county or ():
        if code not in served:
            raise InputError(
                "--county", f"{code} is not a served county ({', '.join(sorted(served))})"
            )
    network = _network(args)
    day, imported = load_day(
        network, plan_date=args.date, orders=args.orders, skip_bad=args.skip_bad
    )
    for warning in imported.warnings:
        _progress(f"orders: {warning}")
    for err in imported.errors:
        _progress(f"orders: skipped {err}")
    _progress(
        f"planning {day.date.isoformat()}: {len(day.orders)} orders, {len(day.fleet)} vehicles"
    )
    options = PlanOptions(
        time_limit=args.time_limit,
        seed=args.seed,
        workers=args.workers,
        counties=tuple(sorted(set(args.county or ()))),
        separate=not args.no_separate,
        dump_problems=args.dump_problems,
        last_mile=args.last_mile,
    )
    plan = plan_day(day, network, options, progress=Progress(enabled=True))
    doc = summary(plan, network)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    sheets = route_sheets(plan, network)
    title = f"楚雄州共同配送路单 Route sheets {day.date.isoformat()}"
    write_route_sheets(sheets, out / "route-sheets", title=title)
    write_json(unassigned_rows(plan), out / "unassigned.json")
    write_json(doc, out / "summary.json")

    def human() -> None:
        print(f"Plan for {doc['date']} ({', '.join(doc['counties'])})")
        print(
            f"  orders        {doc['orders']}: {doc['assigned']} routed, "
            f"{doc['unassigned']} unassigned {doc['unassigned_reasons'] or ''}"
        )
        print(
            f"  routes        {doc['routes']} on {doc['vehicles_used']} vehicles, "
            f"{doc['distance_km']} km, {doc['duration_h']} h"
        )
        print(f"  cost          {doc['cost_fen'] / 100:,.2f} yuan shared")
        if doc["separate_cost_fen"]:
            print(
                f"  alone         {doc['separate_cost_fen'] / 100:,.2f} yuan, every party alone"
                f" -> saving {doc['savings_pct']} %"
            )
            same = doc["comparison"]
            print(
                f"                on the same {same['orders']} orders: "
                f"{same['only_shared']['orders']} only the shared plan serves priced at its "
                f"cost, {same['only_separate']['orders']} only served alone left out"
            )
        print(
            f"  townships     {doc['townships_served']} served "
            f"({doc['townships_with_orders']} with orders), villages {doc['villages_served']}"
        )
        cover = doc["village_coverage"]
        synthetic = f", {cover['synthetic']} of them synthetic" if cover["synthetic"] else ""
        print(
            f"  village points {cover['located']} of {cover['villages']} villages located "
            f"({cover['pct']} %; target {cover['target_pct']:.0f} %{synthetic})"
        )
        for county, c in doc["village_last_mile"].items():
            d, v = c["direct"], c["via_stations"]
            print(
                f"  last mile     {county}: {c['chosen']} (on county routes {d['served']} orders "
                f"{d['cost_fen'] / 100:,.2f} yuan; via {v['stations']} stations {v['served']} "
                f"orders {v['cost_fen'] / 100:,.2f} yuan)"
            )
        print(
            f"  outputs       {out / 'summary.json'}, {out / 'route-sheets'}/ "
            f"({len(sheets)} sheets), {out / 'unassigned.json'}"
        )
        print(f"  time          {doc['seconds']} s")

    _emit(args, doc, human)
    return 0


# ---- parser ------------------------------------------------------------------------------
Extension = Callable[[Any, argparse.ArgumentParser], None]


def build_parser(extend: Extension | None = None) -> argparse.ArgumentParser:
    """The ``codist`` parser; ``extend(subparsers, common)`` adds commands of other layers
    (the HTTP service adds serve, worker, users, db)."""
    common = _common_options()
    parser = _Parser(prog="codist", description="Chuxiong urban-rural co-distribution platform")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_network_commands(sub, common)
    _add_routing_commands(sub, common)
    _add_plan_command(sub, common)
    if extend is not None:
        extend(sub, common)
    return parser


def _common_options() -> _Parser:
    """The options every command takes: --json, --network, --overrides."""
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    common.add_argument(
        "--network", type=Path, default=None, help="a network file from 'codist network import'"
    )
    common.add_argument(
        "--overrides",
        type=Path,
        default=None,
        help="CSV of corrected place coordinates (id,lon,lat,source,surveyed_on,notes)",
    )
    return common


def _add_network_commands(sub: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    """``codist network info`` and ``codist network import``."""
    network = sub.add_parser("network", help="the road network")
    nsub = network.add_subparsers(dest="network_command", required=True, parser_class=_Parser)
    info = nsub.add_parser("info", parents=[common], help="describe the loaded road network")
    info.set_defaults(func=cmd_network_info)
    imp = nsub.add_parser(
        "import", parents=[common], help="build the network from an OpenStreetMap extract"
    )
    imp.add_argument("file", type=Path, help="FILE.osm or FILE.osm.pbf")
    imp.add_argument("-o", "--out", type=Path, default=None, help="where to write the network")
    imp.add_argument(
        "--skip-hierarchies",
        action="store_true",
        help="do not prepare the matrix hierarchies now (they are built on first use)",
    )
    imp.set_defaults(func=cmd_network_import)


def _add_routing_commands(sub: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    """The commands over the road network and the solver: places, route, solve, warm-up,
    bench."""
    places = sub.add_parser("places", parents=[common], help="list places")
    places.add_argument("--kind", choices=PLACE_KINDS)
    places.add_argument(
        "--county", action="append", metavar="CODE", help="county code (repeatable)"
    )
    places.add_argument(
        "--all", action="store_true", help="include Chuxiong city's townships and villages"
    )
    places.add_argument("--unlocated", action="store_true", help="only places without coordinates")
    places.set_defaults(func=cmd_places)

    route = sub.add_parser("route", parents=[common], help="shortest road route")
    route.add_argument("origin", metavar="FROM", help="place id or lon,lat")
    route.add_argument("destination", metavar="TO", help="place id or lon,lat")
    route.add_argument("--profile", default="van", help="truck, van or motorbike (default van)")
    route.set_defaults(func=cmd_route)

    solve = sub.add_parser("solve", parents=[common], help="solve a VROOM-format problem")
    solve.add_argument("problem", metavar="PROBLEM.json", help="problem document ('-': stdin)")
    solve.add_argument("--time-limit", type=float, default=10.0, help="seconds (default 10)")
    solve.add_argument("--seed", type=int, default=0)
    solve.add_argument("-o", "--output", type=Path, default=None, help="write the solution here")
    solve.add_argument(
        "--plan",
        action="store_true",
        help="plan mode: evaluate the vehicles' given steps without optimising",
    )
    solve.set_defaults(func=cmd_solve)

    warm = sub.add_parser(
        "warm-up",
        parents=[common],
        help="compile the routing search ahead (install time; NUMBA_CACHE_DIR names the cache)",
    )
    warm.set_defaults(func=cmd_warm_up)

    bench = sub.add_parser("bench", parents=[common], help="solve benchmark instances")
    bench.add_argument("files", nargs="+", type=Path, metavar="FILE")
    bench.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument(
        "--bks", type=Path, default=None, help="CSV of best-known values (instance,vehicles,cost)"
    )
    bench.set_defaults(func=cmd_bench)


def _add_plan_command(sub: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    """``codist plan``: one day of shared delivery."""
    plan = sub.add_parser(
        "plan", parents=[common], help="plan one day of shared delivery (trunk and county routes)"
    )
    plan.add_argument("--date", type=_date, default=None, help="plan date YYYY-MM-DD")
    plan.add_argument(
        "--orders", type=Path, default=None, help="orders CSV or XLSX (default: bundled sample day)"
    )
    plan.add_argument(
        "--county", action="append", metavar="CODE", help="plan only this county (repeatable)"
    )
    plan.add_argument(
        "--time-limit", type=float, default=25.0, help="optimisation seconds (default 25)"
    )
    plan.add_argument("--seed", type=int, default=0)
    plan.add_argument("--workers", type=int, default=0, help="processes (default: one per CPU)")
    plan.add_argument("--out", type=Path, default=Path("out"), help="output directory (out/)")
    plan.add_argument(
        "--skip-bad", action="store_true", help="import the good order rows, report the bad"
    )
    plan.add_argument(
        "--no-separate", action="store_true", help="skip the every-carrier-alone comparison"
    )
    plan.add_argument(
        "--dump-problems",
        type=Path,
        default=None,
        metavar="DIR",
        help="write every stage's routing problem to DIR as VROOM JSON (meta: its time limit)",
    )
    plan.add_argument(
        "--last-mile",
        choices=LAST_MILE_MODES,
        default="auto",
        help="villages with a service point: on the county routes or by a last mile from "
        "their township stations, whichever serves more then costs less (auto), only on the "
        "county routes (direct), or by the stations wherever they have vehicles (stations)",
    )
    plan.set_defaults(func=cmd_plan)


def main(argv: Sequence[str] | None = None, extend: Extension | None = None) -> int:
    parser = build_parser(extend)
    try:
        args = parser.parse_args(argv)
        return int(args.func(args))
    except CliError as e:
        print(f"codist: error: {e} (see codist --help)", file=sys.stderr)
    except InputError as e:
        print(f"codist: error: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print("codist: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``codist network info | head``)
        # Python flushes stdout at exit again: point it at /dev/null so that is quiet
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a process ended by SIGPIPE
    except Exception as e:  # a bug, not the user's fault: one line, details on request
        if os.environ.get("CODIST_DEBUG"):
            raise
        print(
            f"codist: internal error: {type(e).__name__}: {e} (CODIST_DEBUG=1 shows more)",
            file=sys.stderr,
        )
        return 1
    return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
