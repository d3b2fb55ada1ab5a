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
import sys
from collections.abc import Sequence
from typing import Any

from dispatch.cli import CliError
from dispatch.cli import main as dispatch_main


def _settings() -> Any:
    from api.core.config import SettingsError, get_settings

    try:
        return get_settings()
    except SettingsError as e:
        raise CliError(str(e)) from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.main import create_app

    settings = _settings()
    if args.demo:
        settings = _demo(settings)
    app = create_app(settings, run_migrations=not args.no_migrate)
    print(
        f"codist: serving on http://{args.host}:{args.port}/ ({settings.env}; database "
        f"{settings.database_url.split('@')[-1]}; jobs "
        f"{'on RQ workers' if settings.redis_url else 'in-process'})",
        file=sys.stderr,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


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
    worker = Worker([Queue(settings.queue, connection=connection)], connection=connection)
    print(f"codist: worker {worker.name} waiting for plans", file=sys.stderr)
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
    serve = sub.add_parser("serve", help="run the HTTP API (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--no-migrate", action="store_true", help="do not upgrade the schema at start"
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="seed a demo database (var/demo.db): the bundled fleet, the sample day's orders "
        "and plan, demo accounts (printed)",
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run an RQ worker for planning jobs (REDIS_URL)")
    worker.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    worker.set_defaults(func=cmd_worker)

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
