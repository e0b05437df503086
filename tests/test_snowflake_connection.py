"""Snowflake settings, URL parsing, credentials, error translation and the setup command (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
import snowflake.connector.errors as sf_errors
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from sqlfleet.errors import ConfigError, TransientError, WarehouseError
from sqlfleet.schema_diff import change_columns, diff_columns
from sqlfleet.settings import Settings
from sqlfleet.warehouse_url import SnowflakeTarget, parse_snowflake_url, warehouse_kind
from sqlfleet.warehouses.snowflake_session import connect_options, translate

URL = "snowflake://myorg-acct/RAW?warehouse=LOAD_WH&role=LOADER"


def test_warehouse_url_accepts_duckdb_and_snowflake() -> None:
    assert warehouse_kind("duckdb:///data/w.duckdb") == "duckdb"
    assert Settings(warehouse_url=URL).warehouse_url == URL
    assert parse_snowflake_url(URL) == SnowflakeTarget(
        account="myorg-acct", database="RAW", warehouse="LOAD_WH", role="LOADER"
    )
    assert parse_snowflake_url("snowflake://xy12345.eu-central-1/Raw%20Db").database == "Raw Db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://h/db", "duckdb:///<path> or snowflake://"),
        ("snowflake://acct", "exactly one database"),
        ("snowflake://acct/a/b", "exactly one database"),
        ("snowflake://u:secret@acct/RAW", "no credentials"),
        ("snowflake://acct/RAW?schema=x", "unknown snowflake URL option"),
    ],
)
def test_bad_warehouse_urls_are_rejected(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(warehouse_url=url)


def test_connect_options_password_and_key_pair(tmp_path: Path) -> None:
    target = parse_snowflake_url(URL)
    with pytest.raises(ConfigError, match="SNOWFLAKE_USER"):
        connect_options(Settings(warehouse_url=URL), target)
    with pytest.raises(ConfigError, match="no Snowflake credentials"):
        connect_options(Settings(warehouse_url=URL, snowflake_user="loader"), target)

    options = connect_options(
        Settings(warehouse_url=URL, snowflake_user="loader", snowflake_password=SecretStr("s3cret")), target
    )
    assert {k: options[k] for k in ("account", "user", "warehouse", "role", "paramstyle", "autocommit")} == {
        "account": "myorg-acct",
        "user": "loader",
        "warehouse": "LOAD_WH",
        "role": "LOADER",
        "paramstyle": "qmark",
        "autocommit": False,
    }
    assert options["password"] == "s3cret"

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass phrase"),
    )
    (tmp_path / "key.p8").write_bytes(pem)
    settings = Settings(
        warehouse_url=URL,
        snowflake_user="loader",
        snowflake_private_key_path=tmp_path / "key.p8",
        snowflake_private_key_passphrase=SecretStr("pass phrase"),
    )
    der = connect_options(settings, target)["private_key"]
    assert serialization.load_der_private_key(der, password=None).private_numbers() == key.private_numbers()
    wrong = settings.model_copy(update={"snowflake_private_key_passphrase": SecretStr("nope")})
    with pytest.raises(ConfigError, match="cannot be read") as info:
        connect_options(wrong, target)
    assert "nope" not in str(info.value)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (
            sf_errors.ProgrammingError(msg="Numeric value 'x' is not recognized", errno=100038, sqlstate="22018"),
            WarehouseError,
        ),
        (sf_errors.ProgrammingError(msg="Object does not exist", errno=2003, sqlstate="42S02"), WarehouseError),
        (
            sf_errors.ProgrammingError(
                msg="has locked table; number of waiters exceeds 20", errno=625, sqlstate="57014"
            ),
            TransientError,
        ),
        (sf_errors.OperationalError(msg="Failed to execute request", errno=250003, sqlstate="08001"), TransientError),
        (
            sf_errors.DatabaseError(msg="Authentication token has expired", errno=390114, sqlstate="08001"),
            TransientError,
        ),
        (
            sf_errors.DatabaseError(msg="Incorrect username or password was specified", errno=250001, sqlstate="08001"),
            ConfigError,
        ),
        (sf_errors.ProgrammingError(msg="No active warehouse selected", errno=606, sqlstate="57P03"), ConfigError),
        (ValueError("Unknown copy parameter: PATTERN"), WarehouseError),
    ],
)
def test_errors_are_translated_by_errno_and_sqlstate(exc: Exception, kind: type[Exception]) -> None:
    translated = translate(exc, "loading t")
    assert type(translated) is kind
    assert str(translated).startswith("loading t: ")


def test_schema_diff_and_change_columns() -> None:
    diff = diff_columns(
        [("ID", "BIGINT"), ("name", "VARCHAR"), ("gone", "DATE")],
        [("id", "BIGINT"), ("name", "INTEGER"), ("new", "VARCHAR")],
        lambda a, b: a == b,
    )
    assert diff.added == (("new", "VARCHAR"),) and diff.absent == ("gone",)
    assert [(c.name, c.table_type, c.file_type) for c in diff.changed] == [("name", "VARCHAR", "INTEGER")]
    with pytest.raises(WarehouseError, match="'name' is VARCHAR in the table but INTEGER in the files"):
        diff.raise_on_type_change("db.t")

    cols = [
        ("Op", "VARCHAR"),
        ("_dms_ts", "VARCHAR"),
        ("Id", "BIGINT"),
        ("v", "VARCHAR"),
        ("_dms_change_seq", "VARCHAR"),
    ]
    layout = change_columns(
        cols, timestamp_column="_dms_ts", change_seq_column="_dms_change_seq", key_columns=["ID"], what="t"
    )
    assert (layout.keys, [n for n, _ in layout.target]) == (("Id",), ["_dms_ts", "Id", "v"])
    with pytest.raises(WarehouseError, match="key column 'nokey'"):
        change_columns(
            cols, timestamp_column="_dms_ts", change_seq_column="_dms_change_seq", key_columns=["nokey"], what="t"
        )


def test_setup_dry_run_prints_statements_and_policy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from sqlfleet.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SQLFLEET_WAREHOUSE_URL", URL)
    monkeypatch.setenv("SQLFLEET_LAKE_URL", "s3://dms-lake/prod")
    monkeypatch.setenv("SQLFLEET_SNOWFLAKE_AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/reader")
    runner = CliRunner()
    missing = runner.invoke(app, ["snowflake", "setup", "--dry-run"])
    assert missing.exit_code == 2 and "SQLFLEET_SNOWFLAKE_AWS_EXTERNAL_ID" in missing.output

    result = runner.invoke(app, ["snowflake", "setup", "--dry-run", "--external-id", "fixed-id"])
    assert result.exit_code == 0, result.output
    assert 'CREATE STORAGE INTEGRATION IF NOT EXISTS "sqlfleet_lake"' in result.output
    assert "STORAGE_AWS_EXTERNAL_ID = 'fixed-id'" in result.output
    assert "URL = 's3://dms-lake/prod/'" in result.output
    assert '"Resource": "arn:aws:s3:::dms-lake/prod/*"' in result.output


def test_setup_runs_every_statement_and_needs_desc_integration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Against fakesnow: the objects are created; fakesnow has no DESC INTEGRATION, so no trust policy."""
    import fakesnow
    import snowflake.connector

    from sqlfleet.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SQLFLEET_WAREHOUSE_URL", "snowflake://sqlfleet-test/RAW?role=ACCOUNTADMIN")
    monkeypatch.setenv("SQLFLEET_SNOWFLAKE_USER", "admin")
    monkeypatch.setenv("SQLFLEET_SNOWFLAKE_PASSWORD", "unused")
    monkeypatch.setenv("SQLFLEET_LAKE_URL", "s3://dms-lake/prod")
    monkeypatch.setenv("SQLFLEET_SNOWFLAKE_AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/reader")
    monkeypatch.setenv("SQLFLEET_SNOWFLAKE_AWS_EXTERNAL_ID", "fixed-id")
    nops = [r"^\s*(CREATE|ALTER)\s+(OR\s+REPLACE\s+)?STORAGE\s+INTEGRATION\b.*", r"^\s*DESC\s+INTEGRATION\b.*"]
    with fakesnow.patch(nop_regexes=nops):
        result = CliRunner().invoke(app, ["snowflake", "setup"])
        con = snowflake.connector.connect(account="sqlfleet-test", user="u", password="p")
        stages = con.cursor().execute('SHOW STAGES IN DATABASE "RAW"').fetchall()
        tables = (
            con.cursor()
            .execute(
                """SELECT table_name FROM "RAW".information_schema.tables WHERE table_schema = '_sqlfleet' ORDER BY 1"""
            )
            .fetchall()
        )
    assert result.exit_code == 2
    assert "DESC INTEGRATION did not return STORAGE_AWS_IAM_USER_ARN" in result.output
    assert [(s[1], s[4]) for s in stages] == [("lake", "s3://dms-lake/prod/")]
    assert tables == [("load_manifest",), ("reconciliation_ledger",)]
