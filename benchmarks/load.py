"""A bounded load generator for the courier and dispatcher API, on loopback.

    # once, on a running server with a succeeded plan (e.g. `codist serve --demo`):
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:8000 --setup
    # then, as often as the day's stops last:
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:8000 --rate 300 --duration 30

**The workload** (``--mix``, weights): couriers list their own sheets
(``GET /api/v1/route-sheets?limit=200``, as the courier app does), read one of them
(``GET /api/v1/route-sheets/{id}``), post the next stop event of one of their sheets
(``POST .../events``: arrived, then delivered and picked up as the stop needs, with the
phone's position), and replay an event already answered (the same ``client_event_id``:
a retry after a lost answer, answered 200); dispatchers of each county and the office poll
the monitoring centre (``GET /api/v1/monitor?plan_date=``). Default: 40 % sheet lists,
35 % sheets, 8 % new events, 7 % replays, 10 % monitor polls.

**Open loop.** Request *i* is due at ``start + i / rate`` whatever happened before it
(a fixed schedule drawn from ``--seed``); ``--concurrency`` keep-alive connections take the
due requests in order. A latency runs from the moment the request was due to the end of
its answer, so the time it waited for a free connection (the server being slow) counts.
The run is bounded: at most :data:`MAX_DURATION_S` of load, then at most
:data:`MAX_RUN_S` in all before unanswered requests are counted as ``unfinished``.

**Cheap in CPU.** The generator shares the machine's cores with the server, so it speaks
HTTP/1.1 itself over asyncio streams (no client library, no JSON parsing during the run)
and prints the CPU it used. ``--pid PID`` (repeatable; the server's processes, children
included) and ``--postgres`` add the CPU the server and PostgreSQL used, per request.

**Setup** (``--setup``, as an admin, default the demo's ``admin``): takes the newest
succeeded or published plan; when it is not published yet, creates one courier account
per route sheet (``bench-c<sheet id>``, in a ``bench`` organisation of the route's county
hub, or of the warehouse for a trunk route) and one dispatcher per county
(``bench-d<county>``), all with ``--bench-password``, and publishes the plan giving each
sheet its own courier. A run finds these accounts by name; each new event is used once,
so the sample day (52 routes, 692 events) lasts one or two runs. For repeated runs keep
the published database as a template and serve a fresh copy each time (PostgreSQL)::

    createdb codist_bench        # then: DATABASE_URL=.../codist_bench codist serve --demo,
                                 # wait for the plan, load.py --setup, stop the server
    dropdb --if-exists codist_run && createdb -T codist_bench codist_run
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/codist_run \
        codist serve --dev --workers 2 --port 8765 --log-level warning &
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:8765 --rate 150 \
        --duration 30 --concurrency 32 --pid $! --postgres

Measured (issue 14, this 2-core machine, PostgreSQL 15 on the same machine, the default
mix, ``--workers 2``, 30 s runs, quiet, 2026-12-03 evening): without uvloop/httptools
150 req/s p99 38.6 ms, 200 req/s p99 233 ms, a 300 req/s target achieved 240 req/s
(5.8 ms of the server's CPU a request, 1.0 ms of PostgreSQL's); with them (uvicorn picks
them up) 150 req/s p99 32.8 ms, 200 req/s p99 75 ms, 300 -> 288 req/s (4.9 ms a request).
Earlier, on a busier machine: 60 req/s p99 41 ms, 100 req/s p99 70 ms, 189 req/s at most.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import sys
import time
import urllib.parse
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

MAX_DURATION_S = 55.0  # load sent for at most this long
MAX_RUN_S = 60.0  # the whole run, draining included
API = "/api/v1"
DEMO_ADMIN_PASSWORD = "chuxiong-demo-2026"
BENCH_PASSWORD = "bench-load-password-2026"
OPS = ("sheets", "sheet", "event", "replay", "monitor", "me")
DEFAULT_MIX = "sheets=40,sheet=35,event=8,replay=7,monitor=10"


# ---- a minimal HTTP/1.1 client ------------------------------------------------------------
class HttpError(Exception):
    pass


class Conn:
    """One keep-alive HTTP/1.1 connection (reopened when the server closes it)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, raw: bytes, *, retry: bool = True) -> tuple[int, bytes]:
        """Send one complete request (bytes); (status, body)."""
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        try:
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            if not retry:
                raise
            return await self.request(raw, retry=False)  # a keep-alive the server had closed
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            end = lower.find(b"\r\n", at + 2)
            body = await self.reader.readexactly(int(lower[at + 17 : end]))
        elif b"\r\ntransfer-encoding: chunked" in lower:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = await self.reader.read()
            self.close()
        if b"\r\nconnection: close" in lower:
            self.close()
        return status, body


def build(
    host: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body is not None:
        lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class Api:
    """JSON calls for the setup (not timed)."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise SystemExit("--url: http://HOST:PORT")
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("--url: only a server on this machine (loopback) is a target")
        self.host = f"{parts.hostname}:{parts.port or 80}"
        self.hostname, self.port = parts.hostname, parts.port or 80
        self.conn = Conn(self.hostname, self.port)

    async def call(
        self, method: str, path: str, token: str | None = None, doc: Any = None
    ) -> tuple[int, Any]:
        body = json.dumps(doc).encode() if doc is not None else None
        status, raw = await self.conn.request(
            build(self.host, method, API + path, token=token, body=body)
        )
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    async def ok(self, method: str, path: str, token: str | None = None, doc: Any = None) -> Any:
        status, answer = await self.call(method, path, token, doc)
        if status >= 300:
            raise HttpError(f"{method} {path}: {status} {str(answer)[:300]}")
        return answer

    async def login(self, username: str, password: str) -> str:
        form = urllib.parse.urlencode({"username": username, "password": password}).encode()
        raw = build(
            self.host,
            "POST",
            f"{API}/auth/token",
            body=form,
            content_type="application/x-www-form-urlencoded",
        )
        status, body = await self.conn.request(raw)
        if status != 200:
            raise HttpError(f"sign-in of {username}: {status} {body[:200]!r}")
        return str(json.loads(body)["access_token"])

    async def every(self, path: str, token: str) -> list[Any]:
        items: list[Any] = []
        while True:
            sep = "&" if "?" in path else "?"
            page = await self.ok("GET", f"{path}{sep}limit=500&offset={len(items)}", token)
            items += page["items"]
            if len(items) >= page["total"] or not page["items"]:
                return items


# ---- setup ---------------------------------------------------------------------------------
async def newest_plan(api: Api, admin: str, states: tuple[str, ...]) -> dict[str, Any] | None:
    plans = await api.every("/plans?sort=-id", admin)
    return next((p for p in plans if p["status"] in states), None)


async def setup(api: Api, args: argparse.Namespace) -> None:
    admin = await api.login(args.admin, args.admin_password)
    plan = await newest_plan(api, admin, ("published", "succeeded"))
    if plan is None:
        raise SystemExit("no succeeded plan: start `codist serve --demo` and wait for its plan")
    if plan["status"] == "published":
        print(f"plan {plan['id']} ({plan['plan_date']}) is published already", file=sys.stderr)
        return
    sheets = await api.ok("GET", f"/plans/{plan['id']}/sheets", admin)
    orgs = {o["name"]: o for o in await api.every("/organisations", admin)}
    users = {u["username"]: u for u in await api.every("/users", admin)}

    async def org(name: str, kind: str, county: str | None) -> int:
        if name not in orgs:
            orgs[name] = await api.ok(
                "POST", "/organisations", admin, {"name": name, "kind": kind, "county_code": county}
            )
        return int(orgs[name]["id"])

    async def user(username: str, role: str, org_id: int, county: str | None = None) -> int:
        if username not in users:
            doc = {"username": username, "password": args.bench_password, "role": role}
            doc |= {"org_id": org_id, "county_code": county}
            users[username] = await api.ok("POST", "/users", admin, doc)
        return int(users[username]["id"])

    assignments: dict[str, int] = {}
    for sheet in sheets:
        county = sheet["county_code"]
        where = await org(
            f"bench {county or 'trunk'}",
            "county_hub" if county else "prefecture",
            county,
        )
        assignments[sheet["route_id"]] = await user(f"bench-c{sheet['id']}", "courier", where)
    for county in sorted({s["county_code"] for s in sheets if s["county_code"]}):
        hub = await org(f"bench {county}", "county_hub", county)
        await user(f"bench-d{county}", "dispatcher", hub, county)
    await api.ok("POST", f"/plans/{plan['id']}/publish", admin, {"assignments": assignments})
    print(
        f"published plan {plan['id']} ({plan['plan_date']}): {len(sheets)} sheets, one bench "
        f"courier each; dispatchers bench-d<county>; password {args.bench_password!r}",
        file=sys.stderr,
    )


# ---- the workload -----------------------------------------------------------------------------
@dataclass
class Sheet:
    id: int
    token: str
    events: deque[bytes] = field(default_factory=deque)  # request bodies still to send


@dataclass
class World:
    host: str
    plan_date: str
    couriers: list[tuple[str, list[int]]]  # (token, sheet ids)
    dispatchers: list[str]  # tokens
    idle: deque[Sheet] = field(default_factory=deque)  # sheets with events and none in flight
    done: list[tuple[int, str, bytes]] = field(default_factory=list)  # (sheet, token, body)
    fallbacks: Counter[str] = field(default_factory=Counter)


def next_events(sheet: dict[str, Any], run: str) -> deque[bytes]:
    """The events still to report on a sheet, stop after stop, in a valid order."""
    out: deque[bytes] = deque()
    for stop in sheet["stops"]:
        if stop["status"] in ("completed", "failed"):
            continue
        todo = ["arrived"] if stop["status"] == "pending" else []
        if stop["needs_drop"] and not stop["delivered"]:
            todo.append("delivered")
        if stop["needs_pickup"] and not stop["picked_up"]:
            todo.append("picked_up")
        place = stop.get("place") or {}
        for kind in todo:
            doc: dict[str, Any] = {
                "client_event_id": f"load-{run}-{sheet['id']}-{stop['seq']}-{kind}",
                "seq": stop["seq"],
                "type": kind,
            }
            if isinstance(place.get("lon"), int | float) and isinstance(place.get("lat"), float):
                doc |= {"lon": place["lon"] + 0.0005, "lat": place["lat"], "accuracy_m": 25.0}
            out.append(json.dumps(doc).encode())
    return out


async def discover(api: Api, args: argparse.Namespace) -> World:
    admin = await api.login(args.admin, args.admin_password)
    plan = await newest_plan(api, admin, ("published",))
    if plan is None:
        raise SystemExit("no published plan: run with --setup first")
    sheets = await api.ok("GET", f"/plans/{plan['id']}/sheets", admin)
    names = {u["id"]: u["username"] for u in await api.every("/users", admin)}
    by_courier: dict[str, list[int]] = {}
    for s in sheets:
        name = names.get(s["courier_id"])
        if name and name.startswith("bench-c"):
            by_courier.setdefault(name, []).append(int(s["id"]))
    if not by_courier:
        raise SystemExit(
            f"plan {plan['id']} has no bench couriers: it was not published by --setup"
        )
    world = World(api.host, plan["plan_date"], [], [admin])
    run = f"{int(time.time()):x}{random.Random().randrange(16**4):04x}"
    for name in sorted(by_courier):
        token = await api.login(name, args.bench_password)
        world.couriers.append((token, by_courier[name]))
        for sheet_id in by_courier[name]:
            doc = await api.ok("GET", f"/route-sheets/{sheet_id}", token)
            events = next_events(doc, run)
            if events:
                world.idle.append(Sheet(sheet_id, token, events))
    for name in sorted(n for n in names.values() if n.startswith("bench-d")):
        world.dispatchers.append(await api.login(name, args.bench_password))
    return world


@dataclass
class Item:
    due: float
    op: str
    pick: float  # a random number for choosing whose request it is


@dataclass
class Result:
    op: str
    status: int  # 0: connection error; -1: unfinished
    latency: float


async def send(conn: Conn, world: World, item: Item) -> tuple[str, int]:
    """Send the request of ``item``; (the operation actually done, status)."""
    host, op, pick = world.host, item.op, item.pick
    sheet: Sheet | None = None
    if op == "event":
        if world.idle:
            sheet = world.idle.popleft()
        else:  # every sheet has an event in flight, or the day is over
            world.fallbacks["event->replay"] += 1
            op = "replay"
    if op == "replay" and not world.done:
        world.fallbacks["replay->sheet"] += 1
        op = "sheet"
    if op == "event":
        assert sheet is not None
        body = sheet.events[0]
        raw = build(
            host, "POST", f"{API}/route-sheets/{sheet.id}/events", token=sheet.token, body=body
        )
        status, _ = await conn.request(raw)
        if status in (200, 201, 409):  # 409: refused (counted); go on with the next event
            sheet.events.popleft()
            if status != 409:
                world.done.append((sheet.id, sheet.token, body))
        if sheet.events:
            world.idle.append(sheet)
        return op, status
    if op == "replay":
        sheet_id, token, body = world.done[int(pick * len(world.done))]
        raw = build(host, "POST", f"{API}/route-sheets/{sheet_id}/events", token=token, body=body)
    elif op == "monitor":
        token = world.dispatchers[int(pick * len(world.dispatchers))]
        raw = build(host, "GET", f"{API}/monitor?plan_date={world.plan_date}", token=token)
    else:
        token, sheet_ids = world.couriers[int(pick * len(world.couriers))]
        if op == "sheets":
            raw = build(host, "GET", f"{API}/route-sheets?limit=200", token=token)
        elif op == "me":  # the floor: a signed-in request that reads one row
            raw = build(host, "GET", f"{API}/me", token=token)
        else:
            sheet_id = sheet_ids[int(pick * 7919) % len(sheet_ids)]
            raw = build(host, "GET", f"{API}/route-sheets/{sheet_id}", token=token)
    status, _ = await conn.request(raw)
    return op, status


def schedule(rate: float, duration: float, mix: dict[str, float], seed: int) -> list[Item]:
    rng = random.Random(seed)
    ops, weights = list(mix), list(mix.values())
    count = int(rate * duration)
    kinds = rng.choices(ops, weights, k=count)
    return [Item(i / rate, kinds[i], rng.random()) for i in range(count)]


async def load(
    world: World, items: list[Item], concurrency: int, host: str, port: int
) -> tuple[list[Result], float]:
    queue: asyncio.Queue[Item] = asyncio.Queue()
    results: list[Result] = []
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def worker() -> None:
        conn = Conn(host, port)
        try:
            while True:
                item = await queue.get()
                try:
                    op, status = await send(conn, world, item)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    conn.close()
                    op, status = item.op, 0
                results.append(Result(op, status, loop.time() - start - item.due))
                queue.task_done()
        finally:
            conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    at = 0
    while at < len(items):
        now = loop.time() - start
        while at < len(items) and items[at].due <= now:
            queue.put_nowait(items[at])
            at += 1
        if at < len(items):
            await asyncio.sleep(max(0.0, items[at].due - (loop.time() - start)))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(queue.join(), timeout=max(1.0, MAX_RUN_S - (loop.time() - start)))
    elapsed = loop.time() - start
    for w in workers:
        w.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    answered = len(results)
    for _ in range(len(items) - answered):  # due but never answered within the bound
        results.append(Result("unfinished", -1, elapsed))
    return results, elapsed


# ---- CPU accounting -------------------------------------------------------------------------
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int, *, reaped: bool = False) -> float:
    """utime + stime of a process (with ``reaped``: plus its children that ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        if reaped:
            ticks += int(fields[13]) + int(fields[14])  # cutime + cstime
        return ticks / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


def _postgres() -> dict[int, int]:
    """PostgreSQL's processes: pid -> parent pid."""
    pids = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() != "postgres":
                        continue
                with open(f"/proc/{entry}/stat") as f:
                    pids[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return pids


def cpu_of(pids: list[int], postgres: bool) -> dict[str, float]:
    """CPU seconds so far: ``server`` (the processes and their children), each server
    process (``pid N``), ``postgres`` (every PostgreSQL process)."""
    out: dict[str, float] = {}
    if pids:
        every = sorted({p for pid in pids for p in (pid, *_children(pid))})
        spent = {p: _proc_cpu(p) for p in every}
        out["server"] = sum(spent.values())
        out |= {f"pid {p}": seconds for p, seconds in spent.items()}
    if postgres:  # the postmaster counts the backends that ended (pool overflow)
        found = _postgres()
        out["postgres"] = sum(_proc_cpu(p, reaped=ppid not in found) for p, ppid in found.items())
    return out


# ---- the report -------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def report(
    results: list[Result], elapsed: float, spent: dict[str, float], args: argparse.Namespace
) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
    for op in [*OPS, "unfinished", "all"]:
        mine = [r for r in results if op == "all" or r.op == op]
        if not mine:
            continue
        ok = [r.latency * 1000 for r in mine if 200 <= r.status < 300]
        every = [r.latency * 1000 for r in mine if r.status > 0]
        rows[op] = {
            "requests": len(mine),
            "ok": len(ok),
            "rps": round(len(mine) / elapsed, 1),
            "p50_ms": round(_pct(every, 0.50), 1),
            "p95_ms": round(_pct(every, 0.95), 1),
            "p99_ms": round(_pct(every, 0.99), 1),
            "max_ms": round(max(every), 1) if every else None,
            "statuses": dict(sorted(Counter(r.status for r in mine).items())),
        }
    return {"elapsed_s": round(elapsed, 2), "target_rps": args.rate, "ops": rows, "cpu": spent}


def show(doc: dict[str, Any], requests: int) -> None:
    print(f"{'operation':<11}{'requests':>9}{'ok':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'p99 ms':>9}{'max ms':>9}  statuses")  # fmt: skip
    for op, r in doc["ops"].items():
        print(
            f"{op:<11}{r['requests']:>9}{r['ok']:>7}{r['rps']:>8}{r['p50_ms']:>9}{r['p95_ms']:>9}"
            f"{r['p99_ms']:>9}{r['max_ms'] or 0:>9}  {r['statuses']}"
        )
    errors = Counter[int]()
    for op, r in doc["ops"].items():
        if op != "all":
            errors.update({int(k): v for k, v in r["statuses"].items() if not 200 <= int(k) < 300})
    print(f"errors by status: {dict(errors) or 'none'} (0: connection error; -1: unfinished)")
    print(f"achieved {doc['ops']['all']['rps']} req/s of {doc['target_rps']} targeted "
          f"in {doc['elapsed_s']} s")  # fmt: skip
    for who, seconds in doc["cpu"].items():
        share = 100 * seconds / doc["elapsed_s"]
        print(f"CPU {who}: {seconds:.2f} s ({share:.0f} % of one core; "
              f"{1000 * seconds / max(1, requests):.2f} ms a request)")  # fmt: skip
    if doc.get("fallbacks"):
        print(f"fallbacks: {doc['fallbacks']} (an event with no sheet free, a replay before any "
              "event: the operation actually sent is the one counted)")  # fmt: skip


def parse_mix(text: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in OPS:
            raise SystemExit(f"--mix: {name!r} is not one of {', '.join(OPS)}")
        mix[name.strip()] = float(weight)
    if not any(mix.values()):
        raise SystemExit("--mix: give some operation a weight")
    return mix


async def amain(args: argparse.Namespace) -> int:
    api = Api(args.url)
    if args.setup:
        await setup(api, args)
        return 0
    world = await discover(api, args)
    events_left = sum(len(s.events) for s in world.idle)
    print(
        f"{len(world.couriers)} couriers, {len(world.dispatchers)} dispatchers (the admin "
        f"included), {events_left} events left to report on plan date {world.plan_date}",
        file=sys.stderr,
    )
    items = schedule(args.rate, args.duration, parse_mix(args.mix), args.seed)
    warm = [Item(0.0, op, random.random()) for op in ("sheets", "sheet", "monitor") * args.warmup]
    if warm:
        await load(world, warm, args.concurrency, api.hostname, api.port)
    api.conn.close()
    spent_before = cpu_of(args.pid, args.postgres)
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    results, elapsed = await load(world, items, args.concurrency, api.hostname, api.port)
    own = resource.getrusage(resource.RUSAGE_SELF)
    spent = {
        who: seconds - spent_before.get(who, 0.0)
        for who, seconds in cpu_of(args.pid, args.postgres).items()
    }
    spent = {k: v for k, v in spent.items() if v >= 0.05 or not k.startswith("pid ")}
    spent["generator"] = own.ru_utime + own.ru_stime - own_before.ru_utime - own_before.ru_stime
    doc = report(results, elapsed, spent, args)
    doc["fallbacks"] = dict(world.fallbacks)
    doc["events_left"] = sum(len(s.events) for s in world.idle)
    if args.json:
        print(json.dumps(doc, ensure_ascii=False))
    else:
        show(doc, len(results))
        print(f"events left to report: {doc['events_left']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of load (max 55)")
    ap.add_argument("--rate", type=float, default=100.0, help="requests per second, scheduled")
    ap.add_argument("--concurrency", type=int, default=32, help="keep-alive connections")
    ap.add_argument("--mix", default=DEFAULT_MIX, help=f"weights (default {DEFAULT_MIX})")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=10, help="rounds of reads before the clock")
    ap.add_argument(
        "--setup", action="store_true", help="publish the newest plan to bench couriers"
    )
    ap.add_argument("--admin", default="admin")
    ap.add_argument(
        "--admin-password", default=os.environ.get("CODIST_PASSWORD", DEMO_ADMIN_PASSWORD)
    )
    ap.add_argument("--bench-password", default=BENCH_PASSWORD)
    ap.add_argument("--pid", type=int, action="append", default=[], help="a server process (CPU)")
    ap.add_argument("--postgres", action="store_true", help="count PostgreSQL's CPU too")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION_S:
        ap.error(f"--duration: 0 < seconds <= {MAX_DURATION_S:g}")
    if not 0 < args.rate <= 5000 or not 1 <= args.concurrency <= 512:
        ap.error("--rate 1..5000 and --concurrency 1..512")
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
