"""Parsing ``SQLFLEET_WAREHOUSE_URL``: ``duckdb:///<path>`` or ``snowflake://<account>/<database>?...`` (pure)."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import parse_qs, unquote, urlparse

from pydantic import BaseModel, ConfigDict

WarehouseKind = Literal["duckdb", "snowflake"]

# Snowflake account identifiers: "<org>-<account>" or a locator such as "xy12345.eu-central-1".
_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_OPTIONS = {"warehouse", "role"}


class SnowflakeTarget(BaseModel):
    """Where a Snowflake warehouse URL points.

    ``database`` is used as a quoted identifier, exactly as written (``RAW`` and ``raw`` are two
    databases); ``warehouse`` and ``role`` are passed to the connector as they are.
    """

    model_config = ConfigDict(frozen=True)

    account: str
    database: str
    warehouse: str | None = None
    role: str | None = None


def warehouse_kind(url: str) -> WarehouseKind:
    """``duckdb`` or ``snowflake`` from the URL's scheme; ``ValueError`` for anything else."""
    if url.startswith("duckdb://"):
        return "duckdb"
    if url.startswith("snowflake://"):
        return "snowflake"
    raise ValueError(
        f"warehouse_url must be duckdb:///<path> or snowflake://<account>/<database>?warehouse=..&role=.., got {url!r}"
    )


def parse_snowflake_url(url: str) -> SnowflakeTarget:
    """Parse ``snowflake://<account>/<database>?warehouse=<wh>&role=<role>``; ``ValueError`` says what is wrong.

    Credentials never go in the URL (it is logged and shown); they come from their own settings.
    """
    parsed = urlparse(url)
    if parsed.scheme != "snowflake":
        raise ValueError(f"not a snowflake:// URL: {url!r}")
    if parsed.username or parsed.password:
        raise ValueError("put no credentials in the warehouse URL; use SQLFLEET_SNOWFLAKE_USER and a password or key")
    account = parsed.hostname or ""
    if not _ACCOUNT.match(account):
        raise ValueError(f"snowflake URL {url!r} names no valid account (snowflake://<account>/<database>)")
    database = unquote(parsed.path.strip("/"))
    if not database or "/" in database:
        raise ValueError(f"snowflake URL {url!r} must name exactly one database: snowflake://<account>/<database>")
    options = parse_qs(parsed.query, keep_blank_values=True, strict_parsing=False)
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise ValueError(f"unknown snowflake URL option(s) {unknown}; allowed: {sorted(_OPTIONS)}")
    values = {key: vals[-1] for key, vals in options.items() if vals and vals[-1]}
    return SnowflakeTarget(
        account=parsed.netloc.split("@")[-1].split(":")[0] or account,
        database=database,
        warehouse=values.get("warehouse"),
        role=values.get("role"),
    )
