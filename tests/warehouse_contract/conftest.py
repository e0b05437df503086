"""One harness, two warehouses: the DuckDB file and Snowflake through fakesnow (patch mode).

The Snowflake side is set up by the same statements as ``sqlfleet snowflake setup`` (the
storage-integration DDL is a no-op through ``nop_regexes``: fakesnow cannot parse it), then the
stage is pointed at the test's lake folder with a ``file://`` URL, which only fakesnow accepts
(real stages are on S3; reference/snowflake.md §2.1).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sqlfleet.lake import Lake
from sqlfleet.sql import duckdb as duck_sql
from sqlfleet.sql import snowflake as sf_sql
from sqlfleet.sql.identifiers import qualified_name, quote_identifier
from sqlfleet.warehouses.duckdb import DuckDBWarehouse
from sqlfleet.warehouses.snowflake import SnowflakeWarehouse

T0 = datetime(2026, 11, 28, 10, 0, 0)
SNOWFLAKE_DATABASE = "RAW"
INTEGRATION_DDL = r"^\s*(CREATE|ALTER)\s+(OR\s+REPLACE\s+)?STORAGE\s+INTEGRATION\b.*"


class Clock:
    """A deterministic clock: each call is one second after the previous one."""

    def __init__(self) -> None:
        self._ticks = itertools.count()

    def __call__(self) -> datetime:
        return T0 + timedelta(seconds=next(self._ticks))


@contextlib.contextmanager
def fakesnow_warehouse(lake: Lake, clock: Callable[[], datetime], sessions: int = 2) -> Iterator[SnowflakeWarehouse]:
    """A ``SnowflakeWarehouse`` on fakesnow, its stage on ``lake``'s folder."""
    import fakesnow
    import snowflake.connector

    from sqlfleet.snowflake_setup import SetupPlan, setup_statements
    from sqlfleet.warehouses.snowflake_session import SessionPool

    def connect() -> Any:
        return snowflake.connector.connect(
            account="sqlfleet-test", user="loader", password="unused", paramstyle="qmark", autocommit=False
        )

    with fakesnow.patch(nop_regexes=[INTEGRATION_DDL]):
        plan = SetupPlan(
            integration="sqlfleet_lake",
            aws_role_arn="arn:aws:iam::123456789012:role/snowflake-lake-reader",
            external_id="sqlfleet-test",
            stage_url="s3://unused/lake/",
            database=SNOWFLAKE_DATABASE,
        )
        con = connect()
        cur = con.cursor()
        for statement in setup_statements(plan):
            cur.execute(statement)
        stage = qualified_name(SNOWFLAKE_DATABASE, "_sqlfleet", "lake")
        cur.execute(f"CREATE OR REPLACE STAGE {stage} URL = {sf_sql.string_literal(f'file://{lake.root}/')}")
        con.commit()
        con.close()
        warehouse = SnowflakeWarehouse(SessionPool(connect, sessions), database=SNOWFLAKE_DATABASE, clock=clock)
        try:
            yield warehouse
        finally:
            warehouse.close()


@dataclass
class Harness:
    """A warehouse under test and the few dialect-specific reads the scenarios need."""

    kind: str
    warehouse: DuckDBWarehouse | SnowflakeWarehouse
    lake: Lake

    def table(self, database: str, target: str) -> str:
        """The fully qualified name of a target."""
        if isinstance(self.warehouse, SnowflakeWarehouse):
            return qualified_name(self.warehouse.database, database, target)
        return qualified_name(database, target)

    def rows(self, database: str, target: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        """Every row of ``columns``, sorted."""
        names = ", ".join(quote_identifier(c) for c in columns)
        return sorted(self.warehouse.query(f"SELECT {names} FROM {self.table(database, target)}"), key=repr)

    def columns(self, database: str, target: str) -> list[str]:
        """The target's column names in order."""
        if isinstance(self.warehouse, SnowflakeWarehouse):
            statement = sf_sql.table_columns_sql(self.warehouse.database, database, target)
        else:
            statement = duck_sql.table_columns_sql(database, target)
        return [r[0] for r in self.warehouse.query(statement)]

    def execute(self, statement: str) -> None:
        """Run one statement (e.g. plant a sentinel row)."""
        self.warehouse.query(statement)


@pytest.fixture(params=["duckdb", "snowflake"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """The scenario suite's warehouse: DuckDB, then Snowflake through fakesnow."""
    lake = Lake.from_url(f"file://{tmp_path / 'lake'}")
    if request.param == "duckdb":
        with DuckDBWarehouse(tmp_path / "w.duckdb", clock=Clock()) as wh:
            yield Harness("duckdb", wh, lake)
    else:
        with fakesnow_warehouse(lake, Clock()) as sf:
            yield Harness("snowflake", sf, lake)
