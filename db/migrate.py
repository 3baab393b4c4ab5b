"""Schema management: Alembic migrations run in code (no ``alembic.ini`` needed)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, func, inspect, select, text

from anxin.db.engine import get_engine, normalize_url
from anxin.db.models import ALL_TABLES, Base

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config pointing at ``anxin/db/migrations`` (and at ``url`` when given)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url:
        cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def _engine(target: str | Engine | None) -> Engine:
    return target if isinstance(target, Engine) else get_engine(target)


def upgrade(target: str | Engine | None = None, revision: str = "head") -> str | None:
    """Migrate the database (URL or engine; default the configured one) to ``revision``;
    returns the revision it is at afterwards."""
    engine = _engine(target)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return current_revision(engine)


def downgrade(target: str | Engine | None = None, revision: str = "base") -> None:
    """Migrate down to ``revision`` (``base`` removes every table)."""
    engine = _engine(target)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current_revision(target: str | Engine | None = None) -> str | None:
    """The revision the database is at (None for an unmigrated database)."""
    with _engine(target).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def drop_everything(target: str | Engine | None = None) -> None:
    """Drop every table of the database: Anxin's, Alembic's and any other left over."""
    engine = _engine(target)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = inspect(conn).get_table_names()
            for name in names:
                conn.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
            return
        meta = MetaData()
        meta.reflect(bind=conn)
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        meta.drop_all(bind=conn)


def table_counts(target: str | Engine | None = None) -> dict[str, int | None]:
    """Row count of each of Anxin's tables (None for a table that does not exist)."""
    engine = _engine(target)
    counts: dict[str, int | None] = {}
    with engine.connect() as conn:
        existing = set(inspect(conn).get_table_names())
        for name in ALL_TABLES:
            if name not in existing:
                counts[name] = None
                continue
            table = Base.metadata.tables[name]
            counts[name] = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return counts
