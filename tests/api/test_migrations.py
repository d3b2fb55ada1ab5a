"""The Alembic migrations: they match the tables and can be undone."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from api.core.db import MIGRATIONS, migrate


def test_migrations_match_models_and_go_down_and_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    command.check(cfg)  # raises when the models and the migrations disagree
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
    command.check(cfg)
