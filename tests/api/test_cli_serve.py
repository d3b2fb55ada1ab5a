"""`codist serve`: production unless --dev or --demo (an explicit CODIST_ENV wins), a
refusal without a real CODIST_SECRET_KEY that says what to do, --workers N: the schema
migrated once before the workers start, settings handed over through the environment,
each worker on a socket of its own. uvicorn is replaced by a recorder except in the last
test, which runs `codist serve --workers 2` for real in a child process."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect

import api.cli as cli
from api.cli import serve_env
from dispatch.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
SECRET = secrets.token_hex(32)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean environment: no CODIST_ENV, secret, DATABASE_URL or REDIS_URL; a home of
    the test's own. `codist serve` writes some of these: each is restored afterwards."""
    for name in (
        "CODIST_ENV",
        "CODIST_SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "PROMETHEUS_MULTIPROC_DIR",
    ):
        monkeypatch.setenv(name, "")  # remembered as it was, restored at the end
        monkeypatch.delenv(name)
    monkeypatch.setenv("CODIST_HOME", str(tmp_path / "var"))
    return tmp_path / "var"


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """uvicorn.run and the SO_REUSEPORT supervisor, replaced by recorders."""
    import uvicorn

    calls: list[dict[str, Any]] = []

    def run(app: Any, **options: Any) -> None:
        calls.append({"app": app, "environ": dict(os.environ), **options})

    def supervise(workers: int, options: dict[str, Any]) -> int:
        calls.append({"app": cli.WORKER_APP, "workers": workers, "environ": dict(os.environ)})
        calls[-1].update(options)
        return 0

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setattr(cli, "_supervise", supervise)
    yield calls


def _args(*argv: str) -> argparse.Namespace:
    return build_parser(cli.extend).parse_args(["serve", *argv])


def test_the_options() -> None:
    args = _args("--workers", "3", "--dev", "--port", "9000")
    assert (args.workers, args.dev, args.demo, args.port) == (3, True, False, 9000)
    assert _args().workers == 1 and not _args().dev


@pytest.mark.parametrize(
    ("given", "argv", "expected"),
    [
        (None, (), ("production", True)),
        (None, ("--dev",), ("development", True)),
        (None, ("--demo",), ("development", True)),
        ("development", (), ("development", False)),
        ("production", ("--dev",), ("production", False)),  # an explicit CODIST_ENV wins
        ("production", ("--demo",), ("production", False)),
    ],
)
def test_which_environment(
    given: str | None, argv: tuple[str, ...], expected: tuple[str, bool]
) -> None:
    environ = {} if given is None else {"CODIST_ENV": given}
    assert serve_env(_args(*argv), environ) == expected
    assert environ["CODIST_ENV"] == expected[0]


def test_production_without_a_secret_exits_2_saying_what_to_do(
    env: Path, recorded: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "CODIST_SECRET_KEY" in err and "--dev" in err
    assert recorded == []  # nothing served
    del os.environ["CODIST_ENV"]  # chosen by the first run
    os.environ["CODIST_SECRET_KEY"] = "too short"
    assert cli.main(["serve"]) == 2
    assert "CODIST_SECRET_KEY" in capsys.readouterr().err
    del os.environ["CODIST_SECRET_KEY"]
    os.environ["CODIST_ENV"] = "production"
    assert cli.main(["serve", "--dev"]) == 2  # the explicit environment wins over --dev
    assert "CODIST_ENV=production is set" in capsys.readouterr().err
    assert recorded == []


def test_workers_must_be_positive(env: Path, recorded: list[dict[str, Any]]) -> None:
    assert cli.main(["serve", "--dev", "--workers", "0"]) == 2
    assert recorded == []


def test_one_worker_serves_the_app_in_process(
    env: Path, recorded: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODIST_SECRET_KEY", SECRET)
    assert cli.main(["serve", "--port", "8123"]) == 0
    (call,) = recorded
    assert call["environ"]["CODIST_ENV"] == "production"
    assert call["app"].state.settings.env == "production"
    assert call["port"] == 8123 and call["access_log"] is False
    assert isinstance(call.get("log_config"), dict)  # the service's JSON logs
    engine = create_engine(f"sqlite:///{env / 'codist.db'}")
    try:
        assert "alembic_version" in inspect(engine).get_table_names()  # migrated here
    finally:
        engine.dispose()


def test_several_workers_get_settings_through_the_environment_after_one_migration(
    env: Path, recorded: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{env / 'other.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("REDIS_URL", "")
    migrations: list[str] = []
    import api.core.db as db

    original = db.migrate

    def counting(database_url: str) -> None:
        migrations.append(database_url)
        original(database_url)

    monkeypatch.setattr(db, "migrate", counting)
    assert cli.main(["serve", "--dev", "--workers", "2", "--port", "8124"]) == 0
    (call,) = recorded
    assert call["app"] == "api.cli:worker_app" and call["workers"] == 2
    assert migrations == [url]  # once, here, before any worker
    environ = call["environ"]
    assert environ["CODIST_ENV"] == "development" and environ["DATABASE_URL"] == url
    assert "REDIS_URL" not in environ
    assert environ.get("PROMETHEUS_MULTIPROC_DIR")  # /metrics sums the workers
    assert not Path(environ["PROMETHEUS_MULTIPROC_DIR"]).exists()  # removed at the end
    # a worker builds its app from that environment, without migrating
    monkeypatch.setenv("CODIST_ENV", "development")
    app = cli.worker_app()
    assert app.state.settings.database_url == url and migrations == [url]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data[9:12]), data


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT workers: Linux")
def test_serve_with_two_workers_for_real(tmp_path: Path) -> None:
    port = _free_port()
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CODIST_ENV", "DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    environ |= {"CODIST_HOME": str(tmp_path / "var"), "CODIST_SECRET_KEY": SECRET}
    codist = Path(sys.executable).with_name("codist")
    log = tmp_path / "serve.log"
    command = [str(codist), "serve", "--workers", "2", "--port", str(port), "--log-level", "info"]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        status = 0
        for _ in range(240):  # up to a minute for two workers to start
            if proc.poll() is not None:
                break
            try:
                status, _body = _get(port, "/readyz")
                break
            except OSError:
                time.sleep(0.25)
        assert status == 200, log.read_text()
        answers = [_get(port, "/api/v1/me")[0] for _ in range(6)]
        assert answers == [401] * 6  # served (not signed in), by whichever worker
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    text = log.read_text()
    assert code == 0, text
    assert "production" in text and "2 workers" in text
    assert text.count("Application startup complete") == 2, text  # two workers served


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc: Linux")
def test_the_in_process_job_child_stops_with_a_killed_service(tmp_path: Path) -> None:
    """`codist serve --demo` plans in a child process; killed with SIGKILL (no shutdown
    at all), the service leaves no orphan child holding a database connection."""
    port = _free_port()
    environ = {
        k: v for k, v in os.environ.items() if k not in ("CODIST_ENV", "DATABASE_URL", "REDIS_URL")
    }
    environ |= {"CODIST_HOME": str(tmp_path / "var"), "CODIST_PLAN_TIME_LIMIT": "30"}
    codist = Path(sys.executable).with_name("codist")
    command = [str(codist), "serve", "--demo", "--port", str(port), "--log-level", "warning"]
    with open(tmp_path / "serve.log", "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=out, stderr=out)
    try:
        kids: list[int] = []
        for _ in range(240):  # the demo submits its day's plan when it starts
            kids = [k for k in _children(proc.pid) if "spawn_main" in _cmdline(k)]
            if kids or proc.poll() is not None:
                break
            time.sleep(0.25)
        assert kids, (tmp_path / "serve.log").read_text()
    finally:
        proc.kill()
        proc.wait()
    for _ in range(40):
        if not any(_alive(k) for k in kids):
            break
        time.sleep(0.25)
    assert not any(_alive(k) for k in kids), "the job child outlived the killed service"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
