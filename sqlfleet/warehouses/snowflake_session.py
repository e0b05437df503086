"""Snowflake connections: credentials, a bounded pool of sessions, and the one error translation.

Every session runs with ``autocommit=False`` and ``paramstyle="qmark"``: statements accumulate
in one transaction until ``commit``. Snowflake commits the open transaction before any DDL
(reference: "DDL in explicit transactions" on the Snowflake transactions page), so callers run
their DDL first, commit, and only then the DML that must commit together.

Credentials come from the settings (a password or a PEM key file) or from a Prefect Secret
block; they go to the connector and nowhere else: no message built here contains them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlfleet.errors import ConfigError, SqlfleetError, TransientError, WarehouseError
from sqlfleet.warehouse_url import SnowflakeTarget

if TYPE_CHECKING:
    from sqlfleet.settings import Settings

#: Connector/server error numbers worth a retry: 604 statement canceled, 625 too many statements
#: waiting for a table lock (reference/snowflake.md §1.8), 250002 connection closed, 250003
#: request failed, 251011 connection timeout, 252007 session renewal failed, 390114 token expired.
TRANSIENT_ERRNOS = frozenset({604, 625, 250002, 250003, 251011, 252007, 390114})
#: Authentication and setup errors: 390100 wrong user/password, 390101/390102 user disabled or
#: locked, 390144 invalid JWT (key pair), 251008 unreadable private key, 606 no warehouse.
CONFIG_ERRNOS = frozenset({390100, 390101, 390102, 390144, 251008, 606})
_TRANSIENT_SQLSTATES = ("40001", "57014")
_AUTH_WORDS = ("password", "jwt", "private key", "authenticat")


def translate(exc: BaseException, doing: str) -> SqlfleetError:
    """The one place Snowflake connector exceptions become the project's errors.

    Decided by ``errno`` and ``sqlstate``: connection-class states (``08...``), serialization
    failures and cancellations are transient; authentication is a configuration problem;
    everything else (SQL, data, privileges) is terminal for the table being loaded.
    """
    if isinstance(exc, SqlfleetError):
        return exc
    errno = getattr(exc, "errno", None)
    sqlstate = str(getattr(exc, "sqlstate", None) or "")
    message = str(getattr(exc, "raw_msg", None) or exc).strip() or type(exc).__name__
    text = f"{doing}: {message} (errno {errno}, sqlstate {sqlstate or '-'})"
    if errno in TRANSIENT_ERRNOS:
        return TransientError(text)
    if errno in CONFIG_ERRNOS or (sqlstate.startswith("08") and any(word in message.lower() for word in _AUTH_WORDS)):
        return ConfigError(text)
    if sqlstate.startswith("08") or sqlstate in _TRANSIENT_SQLSTATES or type(exc).__name__ == "OperationalError":
        return TransientError(text)
    if errno is None and not type(exc).__module__.startswith("snowflake"):
        text = f"{doing}: {type(exc).__name__}: {message}"
    return WarehouseError(text)


class Session:
    """One connection checked out of the pool: statements, results, commit and rollback."""

    def __init__(self, connection: Any, doing: str) -> None:
        self._connection = connection
        self._cursor = connection.cursor()
        self.doing = doing
        self.columns: list[str] = []

    def execute(self, statement: str, params: Sequence[object] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (an empty list for statements without a result)."""
        try:
            self._cursor.execute(statement, params)
            self.columns = [d[0] for d in (self._cursor.description or [])]
            return [tuple(r) for r in self._cursor.fetchall()] if self._cursor.description else []
        except Exception as exc:
            raise translate(exc, self.doing) from exc

    def scalar(self, statement: str) -> int:
        """The first column of the first row, as an integer (0 when there is no row)."""
        rows = self.execute(statement)
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def executemany(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        """Run one parameterised statement for every row (batched by the connector)."""
        if not rows:
            return
        try:
            self._cursor.executemany(statement, [tuple(r) for r in rows])
        except Exception as exc:
            raise translate(exc, self.doing) from exc

    def commit(self) -> None:
        """Commit the open transaction."""
        try:
            self._connection.commit()
        except Exception as exc:
            raise translate(exc, self.doing) from exc

    def rollback(self) -> None:
        """Roll back the open transaction."""
        try:
            self._connection.rollback()
        except Exception as exc:
            raise translate(exc, self.doing) from exc


class SessionPool:
    """At most ``size`` sessions at once, reused; waiting for one has a deadline.

    A session is used by one thread at a time (a Snowflake transaction belongs to one session).
    A connection that failed transiently, or could not be rolled back, is closed, not reused.
    """

    def __init__(self, connect: Callable[[], Any], size: int, wait_seconds: float = 3600.0) -> None:
        self._connect = connect
        self._slots = threading.BoundedSemaphore(size)
        self._wait = wait_seconds
        self._idle: list[Any] = []
        self._guard = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def session(self, doing: str) -> Iterator[Session]:
        """A session for one unit of work; its open transaction is rolled back if the work raises."""
        if not self._slots.acquire(timeout=self._wait):
            raise TransientError(f"{doing}: no Snowflake session free after {self._wait:.0f} s")
        try:
            with self._guard:
                if self._closed:
                    raise WarehouseError(f"{doing}: the Snowflake warehouse is closed")
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                try:
                    connection = self._connect()
                except Exception as exc:
                    raise translate(exc, f"{doing}: connecting to Snowflake") from exc
            session = Session(connection, doing)
            try:
                yield session
            except BaseException as exc:
                reusable = not isinstance(exc, TransientError)
                try:
                    session.rollback()
                except SqlfleetError:
                    reusable = False
                if not reusable:
                    _close_quietly(connection)
                else:
                    self._give_back(connection)
                raise
            self._give_back(connection)
        finally:
            self._slots.release()

    def _give_back(self, connection: Any) -> None:
        with self._guard:
            if self._closed:
                _close_quietly(connection)
            else:
                self._idle.append(connection)

    def close(self) -> None:
        """Close every idle connection; sessions in use are closed when given back."""
        with self._guard:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            _close_quietly(connection)


def _close_quietly(connection: Any) -> None:
    with contextlib.suppress(Exception):
        connection.close()


def _private_key_der(pem: bytes, passphrase: str | None) -> bytes:
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(pem, password=passphrase.encode() if passphrase else None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the Snowflake private key cannot be read: {type(exc).__name__}") from None
    return key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def _secret_block_value(name: str) -> str:
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(name).get()  # type: ignore[union-attr]
    except Exception as exc:
        raise ConfigError(f"cannot read the Prefect Secret block {name!r}: {type(exc).__name__}") from None
    if not isinstance(value, str):
        raise ConfigError(f"the Prefect Secret block {name!r} must hold a string (a password or a PEM key)")
    return value


def connect_options(settings: Settings, target: SnowflakeTarget) -> dict[str, Any]:
    """Keyword arguments for ``snowflake.connector.connect`` (holding secrets: never log them).

    Key-pair authentication when a key file is set or the Secret block holds a PEM key, a
    password otherwise; ``ConfigError`` when neither is configured.
    """
    if not settings.snowflake_user:
        raise ConfigError("SQLFLEET_SNOWFLAKE_USER is not set")
    options: dict[str, Any] = {
        "account": target.account,
        "user": settings.snowflake_user,
        "paramstyle": "qmark",
        "autocommit": False,
        "login_timeout": 60,
        "network_timeout": 300,
        "application": "sqlfleet",
    }
    if target.warehouse:
        options["warehouse"] = target.warehouse
    if target.role:
        options["role"] = target.role
    passphrase = (
        settings.snowflake_private_key_passphrase.get_secret_value()
        if settings.snowflake_private_key_passphrase
        else None
    )
    if settings.snowflake_private_key_path is not None:
        try:
            pem = settings.snowflake_private_key_path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the Snowflake private key {settings.snowflake_private_key_path}: {exc.strerror}"
            ) from None
        options["private_key"] = _private_key_der(pem, passphrase)
    elif settings.snowflake_secret_block:
        secret = _secret_block_value(settings.snowflake_secret_block)
        if secret.lstrip().startswith("-----BEGIN"):
            options["private_key"] = _private_key_der(secret.encode(), passphrase)
        else:
            options["password"] = secret
    elif settings.snowflake_password is not None:
        options["password"] = settings.snowflake_password.get_secret_value()
    else:
        raise ConfigError(
            "no Snowflake credentials: set SQLFLEET_SNOWFLAKE_PRIVATE_KEY_PATH, SQLFLEET_SNOWFLAKE_SECRET_BLOCK "
            "or SQLFLEET_SNOWFLAKE_PASSWORD"
        )
    return options
