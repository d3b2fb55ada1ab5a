"""Scenario files: what the prefecture might build, who joins, and what the year brings.

A scenario is a small TOML file under ``simulations/scenarios/`` (or anywhere: give its
path). Every key is optional except ``title_zh``; ``extends = "other.toml"`` starts from
another scenario of the same folder and overrides what this one sets (tables merge
key by key)::

    title_zh = "一期: 4个县级物流中心, 38个乡镇配送中心"
    title_en = "Phase 1: 4 county hubs, 38 township centres"
    seed = 1
    from = 2026-01-01
    to = 2026-12-31

    [build]                 # what exists: the shared plan's scope
    counties = "all"        # the counties simulated (a list of codes: a smaller study)
    hubs = ["532329", "532326", "532325", "532323"]   # or "all"
    townships = "largest:38"    # "all", "largest:N" (by residents, in the hubs' counties)
                                # or a list of township ids
    village_coverage = 0.5      # share of villages with a (synthetic) service point

    [carriers]
    joined = "all"              # or a number N (the N largest by share) or a list of ids
    sparse_threshold = 30.0     # alone, a carrier serves a township daily from this many
    sparse_days = [0, 2, 4]     # parcels a day; else on these weekdays (0 = Monday)

    [demand]                    # simulations.demand.Calendar
    growth = 0.10
    scale = 1.0

    [fleet]                     # more vehicles: copies of an existing one
    extra = [{ like = "HUB-532322-R01", count = 2 }]

    [[closures]]                # roads shut on some days (rainy season landslides)
    from_place = "HUB-532322"
    to_place = "532322104"
    months = [7, 8]
    every = 3                   # one day in three

    [effort]
    iterations_per_lot = 40     # the search's effort per lot (reproducible)
    time_limit = 20.0           # a day's cap on solving, seconds

    [sensitivity]               # re-solved variants on sample days (report's band)
    days = 6
    demand_scale = [0.6, 1.5]
    sparse_threshold = [0.0, 80.0]

Errors name the key (``phase1.toml: carriers.joined: ...``).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from routing.errors import InputError

__all__ = [
    "SCENARIOS",
    "Closure",
    "Scenario",
    "find_scenario",
    "load_scenario",
    "scenario_from_dict",
]

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
TOP_KEYS = {
    "extends",
    "title_zh",
    "title_en",
    "description_zh",
    "description_en",
    "seed",
    "from",
    "to",
    "build",
    "carriers",
    "demand",
    "fleet",
    "closures",
    "effort",
    "sensitivity",
}
TABLE_KEYS = {
    "build": {"counties", "hubs", "townships", "village_coverage"},
    "carriers": {"joined", "sparse_threshold", "sparse_days"},
    "demand": {"growth", "produce_growth", "scale", "base_year"},
    "fleet": {"extra"},
    "effort": {"iterations_per_lot", "shared_weight", "time_limit"},
    "sensitivity": {"days", "demand_scale", "sparse_threshold"},
}


@dataclass(frozen=True)
class Closure:
    """A road shut between two places on some days of some months."""

    from_place: str
    to_place: str
    months: tuple[int, ...]
    every: int = 1  # every n-th day of those months (1: every day)

    def on(self, day: date) -> bool:
        return day.month in self.months and (day.toordinal() % self.every) == 0


@dataclass(frozen=True)
class Scenario:
    """A scenario, every default filled in."""

    name: str
    title_zh: str
    title_en: str = ""
    description_zh: str = ""
    description_en: str = ""
    seed: int = 1
    start: date = date(2026, 1, 1)
    end: date = date(2026, 12, 31)
    counties: tuple[str, ...] | None = None  # simulated; None: every served county
    hubs: tuple[str, ...] | None = None  # None: every served county
    townships: str | tuple[str, ...] = "all"
    village_coverage: float = 0.0
    joined: str | int | tuple[str, ...] = "all"
    sparse_threshold: float = 30.0
    sparse_days: tuple[int, ...] = (0, 2, 4)
    demand: dict[str, float] = field(default_factory=dict)
    fleet_extra: tuple[tuple[str, int], ...] = ()
    closures: tuple[Closure, ...] = ()
    iterations_per_lot: int = 30
    shared_weight: float = 2.0
    time_limit: float = 20.0
    sensitivity_days: int = 0
    sensitivity: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["start"], doc["end"] = self.start.isoformat(), self.end.isoformat()
        return doc

    def digest(self) -> str:
        """Identity of what a day's figures depend on (a resumed run must match it)."""
        doc = self.as_dict()
        for key in ("title_zh", "title_en", "description_zh", "description_en", "start", "end"):
            doc.pop(key)
        text = json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def find_scenario(name: str) -> Path:
    """A scenario's file: a path, or a name (with or without .toml) under SCENARIOS."""
    path = Path(name)
    if path.suffix == ".toml" and path.exists():
        return path
    candidate = SCENARIOS / (name if name.endswith(".toml") else f"{name}.toml")
    if candidate.exists():
        return candidate
    known = ", ".join(sorted(p.stem for p in SCENARIOS.glob("*.toml")))
    raise InputError("SCENARIO", f"no scenario {name!r} (a .toml path or one of: {known})")


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in seen:
        raise InputError(path.name, "extends itself (a cycle of extends)")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(path.name, f"cannot read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(path.name, f"not valid TOML: {e}") from None
    for key in doc:
        if key not in TOP_KEYS:
            raise InputError(
                f"{path.name}: {key}", f"unknown key (known: {', '.join(sorted(TOP_KEYS))})"
            )
    for table, keys in TABLE_KEYS.items():
        value = doc.get(table, {})
        if not isinstance(value, dict):
            raise InputError(f"{path.name}: {table}", "must be a table")
        for key in value:
            if key not in keys:
                raise InputError(
                    f"{path.name}: {table}.{key}", f"unknown key (known: {', '.join(sorted(keys))})"
                )
    parent = doc.pop("extends", None)
    if parent is None:
        return doc
    if not isinstance(parent, str):
        raise InputError(f"{path.name}: extends", "must be a file name")
    base = _read(path.parent / parent, (*seen, path))
    for key, value in doc.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def load_scenario(name: str) -> Scenario:
    """Read and check a scenario (see the module's notes for the format)."""
    path = find_scenario(name)
    doc = _read(path)
    return _build(path.stem, path.name, doc)


def _number(where: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InputError(where, f"must be a number from {low:g} to {high:g}, not {value!r}")
    return float(value)


def _strings(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(where, "must be a list of ids (strings)")
    return tuple(value)


def _date(where: str, value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(where, f"not a date (YYYY-MM-DD): {value!r}") from None


def _build(name: str, file: str, doc: dict[str, Any]) -> Scenario:
    title = doc.get("title_zh")
    if not isinstance(title, str) or not title.strip():
        raise InputError(f"{file}: title_zh", "required: the scenario's Chinese title")
    build, carriers = doc.get("build", {}), doc.get("carriers", {})
    effort, sens = doc.get("effort", {}), doc.get("sensitivity", {})
    hubs = build.get("hubs", "all")
    counties = build.get("counties", "all")
    townships = build.get("townships", "all")
    if isinstance(townships, list):
        townships = _strings(f"{file}: build.townships", townships)
    elif not (
        townships == "all" or (isinstance(townships, str) and townships.startswith("largest:"))
    ):
        raise InputError(f"{file}: build.townships", '"all", "largest:N" or a list of township ids')
    elif townships != "all":
        _number(f"{file}: build.townships", _int(townships.split(":", 1)[1]), 0, 10_000)
    joined = carriers.get("joined", "all")
    if isinstance(joined, list):
        joined = _strings(f"{file}: carriers.joined", joined)
    elif isinstance(joined, int) and not isinstance(joined, bool):
        _number(f"{file}: carriers.joined", joined, 0, 100)
    elif joined != "all":
        raise InputError(f"{file}: carriers.joined", '"all", a number or a list of carrier ids')
    days = carriers.get("sparse_days", [0, 2, 4])
    if not isinstance(days, list) or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
        raise InputError(f"{file}: carriers.sparse_days", "a list of weekdays 0 (Monday) to 6")
    demand = {
        k: _number(f"{file}: demand.{k}", v, 0 if k != "base_year" else 2000, 3000)
        for k, v in doc.get("demand", {}).items()
    }
    start = _date(f"{file}: from", doc.get("from", "2026-01-01"))
    end = _date(f"{file}: to", doc.get("to", "2026-12-31"))
    if end < start:
        raise InputError(f"{file}: to", "is before from")
    sensitivity = {}
    for key in ("demand_scale", "sparse_threshold"):
        if key in sens:
            values = sens[key]
            if not isinstance(values, list) or not values:
                raise InputError(f"{file}: sensitivity.{key}", "a list of values")
            sensitivity[key] = tuple(
                _number(f"{file}: sensitivity.{key}", v, 0, 1e6) for v in values
            )
    return Scenario(
        name=name,
        title_zh=title,
        title_en=str(doc.get("title_en", "")),
        description_zh=str(doc.get("description_zh", "")),
        description_en=str(doc.get("description_en", "")),
        seed=int(_number(f"{file}: seed", doc.get("seed", 1), 0, 2**31)),
        start=start,
        end=end,
        counties=None if counties == "all" else _strings(f"{file}: build.counties", counties),
        hubs=None if hubs == "all" else _strings(f"{file}: build.hubs", hubs),
        townships=townships,
        village_coverage=_number(
            f"{file}: build.village_coverage", build.get("village_coverage", 0.0), 0, 1
        ),
        joined=joined,
        sparse_threshold=_number(
            f"{file}: carriers.sparse_threshold", carriers.get("sparse_threshold", 30.0), 0, 1e6
        ),
        sparse_days=tuple(days),
        demand=demand,
        fleet_extra=_fleet(file, doc.get("fleet", {}).get("extra", [])),
        closures=_closures(file, doc.get("closures", [])),
        iterations_per_lot=int(
            _number(
                f"{file}: effort.iterations_per_lot", effort.get("iterations_per_lot", 30), 1, 1e5
            )
        ),
        shared_weight=_number(
            f"{file}: effort.shared_weight", effort.get("shared_weight", 2.0), 0.1, 100
        ),
        time_limit=_number(f"{file}: effort.time_limit", effort.get("time_limit", 20.0), 0.5, 3600),
        sensitivity_days=int(_number(f"{file}: sensitivity.days", sens.get("days", 0), 0, 366)),
        sensitivity=sensitivity,
    )


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return -1


def _fleet(file: str, extra: Any) -> tuple[tuple[str, int], ...]:
    if not isinstance(extra, list):
        raise InputError(f"{file}: fleet.extra", "a list of { like = VEHICLE_ID, count = N }")
    out = []
    for i, item in enumerate(extra):
        where = f"{file}: fleet.extra[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("like"), str):
            raise InputError(where, "needs like = an existing vehicle id")
        out.append((item["like"], int(_number(f"{where}.count", item.get("count", 1), 1, 100))))
    return tuple(out)


def _closures(file: str, items: Any) -> tuple[Closure, ...]:
    if not isinstance(items, list):
        raise InputError(f"{file}: closures", "an array of tables [[closures]]")
    out = []
    for i, item in enumerate(items):
        where = f"{file}: closures[{i}]"
        if not isinstance(item, dict):
            raise InputError(where, "must be a table")
        for key in ("from_place", "to_place"):
            if not isinstance(item.get(key), str):
                raise InputError(f"{where}.{key}", "required: a place id")
        months = item.get("months", list(range(1, 13)))
        if not isinstance(months, list) or not all(
            isinstance(m, int) and 1 <= m <= 12 for m in months
        ):
            raise InputError(f"{where}.months", "a list of months 1 to 12")
        every = int(_number(f"{where}.every", item.get("every", 1), 1, 366))
        out.append(Closure(item["from_place"], item["to_place"], tuple(months), every))
    return tuple(out)


def scenario_from_dict(doc: dict[str, Any]) -> Scenario:
    """The scenario of :meth:`Scenario.as_dict` (how a job carries it to a worker)."""

    def tup(value: Any) -> Any:
        return tuple(tup(v) for v in value) if isinstance(value, list) else value

    fields = {k: tup(v) for k, v in doc.items()}
    fields["start"] = date.fromisoformat(doc["start"])
    fields["end"] = date.fromisoformat(doc["end"])
    fields["closures"] = tuple(
        Closure(**{**c, "months": tuple(c["months"])}) for c in doc["closures"]
    )
    fields["demand"] = dict(doc["demand"])
    fields["sensitivity"] = {k: tuple(v) for k, v in doc["sensitivity"].items()}
    for key in ("hubs", "counties"):
        if fields[key] is not None:
            fields[key] = tuple(fields[key])
    return Scenario(**fields)
