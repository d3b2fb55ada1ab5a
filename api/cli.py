"""`codist`: the command line, with the service's commands (serve, worker, users, db).

The planning and routing commands live in :mod:`dispatch.cli`; this module adds the
commands that need the HTTP service and its database, so that ``dispatch`` never imports
``api``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import MutableMapping, Sequence
from typing import Any

from dispatch.cli import CliError
from dispatch.cli import main as dispatch_main


def _settings() -> Any:
    from api.core.config import SettingsError, get_settings

    try:
        return get_settings()
    except SettingsError as e:
        raise CliError(str(e)) from None


#: The factory each worker process imports when ``codist serve --workers N`` (N > 1).
WORKER_APP = "api.cli:worker_app"


def serve_env(args: argparse.Namespace, environ: MutableMapping[str, str]) -> tuple[str, bool]:
    """Set ``CODIST_ENV`` for ``codist serve`` in ``environ``: production unless ``--dev``
    or ``--demo`` (which implies development) is given; a ``CODIST_ENV`` already set wins.
    Returns (the environment, whether it was chosen here)."""
    given = (environ.get("CODIST_ENV") or "").strip()
    if given:
        return given.lower(), False
    env = "development" if (args.dev or args.demo) else "production"
    environ["CODIST_ENV"] = env
    return env, True


def _serve_settings(args: argparse.Namespace) -> Any:
    from api.core.config import SettingsError, load_settings

    env, chosen = serve_env(args, os.environ)
    if not chosen and env != "development" and (args.dev or args.demo):
        flag = "--dev" if args.dev else "--demo"
        print(f"codist: CODIST_ENV={env} is set, so {flag} does not make it development",
              file=sys.stderr)  # fmt: skip
    try:
        return load_settings()
    except SettingsError as e:
        if chosen and "CODIST_SECRET_KEY" in str(e):
            hint = "" if "--dev" in str(e) else "; or pass --dev to run it for development"
            raise CliError(
                f"{e}{hint} (`codist serve` runs in production unless --dev or --demo is given)"
            ) from None
        raise CliError(str(e)) from None


def worker_app() -> Any:
    """The application of one worker process of ``codist serve --workers N``: its settings
    come from the environment the command prepared; the schema was migrated once, before
    the workers started."""
    from api.main import create_app

    return create_app(run_migrations=False)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the API. One worker: the application in this process. Several: uvicorn starts
    ``--workers`` processes, each importing :func:`worker_app`, with the settings in the
    environment (``DATABASE_URL``, ``REDIS_URL``, ``CODIST_ENV``; the rest is read from the
    same environment) and the schema migrated once here, before any of them starts."""
    import uvicorn

    from api.core.db import migrate

    if args.workers < 1:
        raise CliError("--workers must be at least 1")
    settings = _serve_settings(args)
    if args.demo:
        settings = _demo(settings)  # migrates the demo's database
    elif not args.no_migrate:
        migrate(settings.database_url)
    from api.services.observability import configure_logging

    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "log_config": configure_logging(args.log_level),  # JSON lines with the request id
        "access_log": False,  # the service logs each request itself, with its request id
    }
    workers = f"{args.workers} workers" if args.workers > 1 else "1 worker"
    print(
        f"codist: serving on http://{args.host}:{args.port}/ ({settings.env}; database "
        f"{settings.database_url.split('@')[-1]}; jobs "
        f"{'on RQ workers' if settings.redis_url else 'in-process'}; {workers})",
        file=sys.stderr,
    )
    if args.workers == 1:
        from api.main import create_app

        uvicorn.run(create_app(settings, run_migrations=False), **options)
        return 0
    # each worker is a new process reading its settings from the environment
    os.environ["CODIST_ENV"] = settings.env
    os.environ["DATABASE_URL"] = settings.database_url
    if settings.redis_url:
        os.environ["REDIS_URL"] = settings.redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # /metrics sums every worker
        metrics_dir = tempfile.mkdtemp(prefix="codist-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        if hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux"):
            return _supervise(args.workers, options)
        else:  # one shared socket: uvicorn's own supervisor
            uvicorn.run(WORKER_APP, factory=True, workers=args.workers, **options)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


# ---- several workers, each with a socket of its own --------------------------------------------
#: A worker that ends this soon after it started is not restarted (a crash at start).
_CRASH_AT_START_S = 10.0


def _listening(host: str, port: int, *, listen: bool) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    if listen:
        sock.listen(2048)
    return sock


def _worker_process(options: dict[str, Any], parent: int) -> None:
    """One worker: its own listening socket on the shared port (the kernel spreads new
    connections over the workers' sockets), uvicorn serving :func:`worker_app`; it stops
    when the supervising ``codist serve`` is gone."""
    import threading
    import time

    import uvicorn

    def orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=orphaned, daemon=True, name="codist-parent-watch").start()
    sock = _listening(options["host"], options["port"], listen=True)
    config = uvicorn.Config(WORKER_APP, factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


def _supervise(workers: int, options: dict[str, Any]) -> int:
    """Run ``workers`` worker processes, each listening on the port with SO_REUSEPORT.

    uvicorn's own ``--workers`` share one socket, and whichever worker wakes first accepts
    every pending connection: long-lived keep-alive connections then pile up on one worker
    while the other idles (measured: 7.4 s of CPU against 0.9 s). With a socket each, the
    kernel spreads connections evenly. A worker that dies is started again (unless it
    died at start: then all stop and the command fails); SIGTERM or SIGINT stops them
    all, gracefully."""
    import multiprocessing
    import time
    from multiprocessing.connection import wait

    # bound, not listening: checks the port at once and keeps it (e.g. --port 0) for workers
    try:
        probe = _listening(options["host"], options["port"], listen=False)
    except OSError as e:
        raise CliError(f"cannot listen on {options['host']}:{options['port']}: {e}") from None
    options = {**options, "port": probe.getsockname()[1]}
    context = multiprocessing.get_context("spawn")
    stopping, failed = False, False

    def start() -> tuple[Any, float]:
        proc = context.Process(
            target=_worker_process, args=(options, os.getpid()), name="codist-worker"
        )
        proc.start()
        return proc, time.monotonic()

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    procs: list[tuple[Any, float]] = []
    try:
        procs.extend(start() for _ in range(workers))
        while not stopping:
            wait([p.sentinel for p, _ in procs], timeout=0.5)
            for k, (proc, started) in enumerate(procs):
                if proc.is_alive() or stopping:
                    continue
                if time.monotonic() - started < _CRASH_AT_START_S:
                    print(
                        f"codist: worker {proc.pid} exited at start ({proc.exitcode}); stopping",
                        file=sys.stderr,
                    )
                    stopping = failed = True
                    break
                print(f"codist: worker {proc.pid} exited ({proc.exitcode}); starting another",
                      file=sys.stderr)  # fmt: skip
                procs[k] = start()
    finally:
        for proc, _ in procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: uvicorn finishes the requests under way
        deadline = time.monotonic() + 30
        for proc, _ in procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        probe.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if failed else 0


def _demo(settings: Any) -> Any:
    """The demo's own SQLite database and in-process jobs, seeded (see api.services.demo)."""
    from dataclasses import replace

    from sqlmodel import Session

    from api.core.db import engine_for, migrate
    from api.services.demo import DEMO_PASSWORD, seed_demo

    if not settings.development:
        raise CliError("--demo runs only with CODIST_ENV=development (its password is public)")
    settings.home.mkdir(parents=True, exist_ok=True)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{settings.home / 'demo.db'}"
    settings = replace(settings, database_url=url, redis_url=None)
    migrate(settings.database_url)
    print("codist: preparing the demo (accounts, fleet, the sample day's orders)…", file=sys.stderr)
    with Session(engine_for(settings.database_url)) as session:
        info = seed_demo(session, settings)
    print(
        f"codist: demo day {info.plan_date} ({info.orders} orders) is plan {info.plan_id}; "
        "it plans in the background, the plan board shows its progress",
        file=sys.stderr,
    )
    print(f"codist: demo accounts (password {DEMO_PASSWORD!r}):", file=sys.stderr)
    for username, what in info.accounts:
        print(f"  {username:<12} {what}", file=sys.stderr)
    print(
        "  (also a dispatcher per county: wuding, shuangbai, mouding, yaoan, yongren; "
        "couriers <county>-1..4 and trunk-1..3)",
        file=sys.stderr,
    )
    return settings


def cmd_worker(args: argparse.Namespace) -> int:
    from redis import Redis
    from rq import Queue, Worker

    from api.core.db import migrate
    from api.services.queue import reap_stale

    settings = _settings()
    if not settings.redis_url:
        raise CliError("REDIS_URL is not set: without it plans run inside `codist serve`")
    migrate(settings.database_url)
    reap_stale(settings)
    connection = Redis.from_url(settings.redis_url)
    from simulations.run import QUEUE as SIMULATIONS

    # planning jobs first: a dispatcher waits for them; simulated days fill the gaps
    queues = [Queue(name, connection=connection) for name in (settings.queue, SIMULATIONS)]
    worker = Worker(queues, connection=connection)
    print(f"codist: worker {worker.name} waiting for plans and simulated days", file=sys.stderr)
    worker.work(burst=args.burst, with_scheduler=False)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from api.core.db import migrate

    settings = _settings()
    migrate(settings.database_url)
    print("codist: database schema is up to date", file=sys.stderr)
    return 0


def cmd_users_create(args: argparse.Namespace) -> int:
    from sqlmodel import Session, select

    from api.core.db import engine_for, migrate
    from api.models import Organisation
    from api.services.users import create_organisation, create_user

    settings = _settings()
    password = args.password or os.environ.get("CODIST_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise CliError("give --password, or CODIST_PASSWORD, or run in a terminal")
        password = getpass.getpass(f"password for {args.username}: ")
    migrate(settings.database_url)
    with Session(engine_for(settings.database_url)) as session:
        org_id = None
        if args.org:
            org = session.exec(select(Organisation).where(Organisation.name == args.org)).first()
            if org is None:
                org = create_organisation(
                    session,
                    name=args.org,
                    kind=args.org_kind,
                    county_code=args.county if args.org_kind == "county_hub" else None,
                    party_id=args.party,
                )
            org_id = org.id
        user = create_user(
            session,
            username=args.username,
            password=password,
            role=args.role,
            org_id=org_id,
            county_code=args.county if args.role == "dispatcher" else None,
        )
    print(f"codist: created {user.role} {user.username} (id {user.id})", file=sys.stderr)
    if args.json:
        print(json.dumps({"id": user.id, "username": user.username, "role": user.role}))
    return 0


def extend(sub: Any, common: argparse.ArgumentParser) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the HTTP API (uvicorn); production unless --dev or --demo",
        description="Run the HTTP API. CODIST_ENV defaults to production here: set "
        "CODIST_SECRET_KEY (32+ characters), or pass --dev; an explicit CODIST_ENV wins.",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug", "trace"),
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1; about one per core: each serves requests on "
        "its own, with its own database pool)",
    )
    serve.add_argument(
        "--dev",
        action="store_true",
        help="development mode (CODIST_ENV=development: the placeholder secret, cookies "
        "without Secure); without it `codist serve` runs in production",
    )
    serve.add_argument(
        "--no-migrate", action="store_true", help="do not upgrade the schema at start"
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="seed a demo database (var/demo.db): the bundled fleet, the sample day's orders "
        "and plan, demo accounts (printed); implies --dev",
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser(
        "worker", help="run an RQ worker for planning jobs and simulated days (REDIS_URL)"
    )
    worker.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    worker.set_defaults(func=cmd_worker)

    from simulations.cli import add_simulate_command

    add_simulate_command(sub, common)

    db = sub.add_parser("db", help="the service database")
    dsub = db.add_subparsers(dest="db_command", required=True, parser_class=type(db))
    up = dsub.add_parser("upgrade", help="apply the schema migrations")
    up.set_defaults(func=cmd_db_upgrade)

    users = sub.add_parser("users", help="user accounts")
    usub = users.add_subparsers(dest="users_command", required=True, parser_class=type(users))
    create = usub.add_parser("create", parents=[common], help="create a user (bootstrap)")
    create.add_argument("--username", required=True)
    create.add_argument("--password", help="default: $CODIST_PASSWORD or a prompt")
    create.add_argument(
        "--role", required=True, choices=("admin", "dispatcher", "courier", "carrier")
    )
    create.add_argument("--org", help="organisation name (created when new)")
    create.add_argument(
        "--org-kind",
        default="prefecture",
        choices=("prefecture", "county_hub", "carrier", "cooperative"),
    )
    create.add_argument("--county", help="a dispatcher's (or county hub's) county code")
    create.add_argument("--party", help="the carrier's or cooperative's party id, e.g. ZTO")
    create.set_defaults(func=cmd_users_create)


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch_main(argv, extend=extend)


if __name__ == "__main__":
    sys.exit(main())
