"""Start, reuse and stop a local Prefect server on 127.0.0.1 for the embedded default.

The port is set through ``PREFECT_SERVER_API_PORT`` (not ``--port``), because only the
environment variable also points the UI at the right API (reference/prefect.md §1).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from sqlfleet.errors import ConfigError, DeadlineExceededError

DEFAULT_PORT = 4200
HOST = "127.0.0.1"


class ServerInfo(BaseModel):
    """Where a local Prefect server answers, and whether this call started it."""

    model_config = ConfigDict(frozen=True)

    api_url: str
    ui_url: str
    pid: int | None
    started: bool
    log_path: Path | None = None


def api_url(port: int) -> str:
    """The API URL of a local server on ``port``."""
    return f"http://{HOST}:{port}/api"


def ui_url_for(api: str) -> str:
    """The UI URL that goes with an API URL."""
    return api[: -len("/api")] if api.endswith("/api") else api


def is_healthy(api: str, timeout: float = 2.0) -> bool:
    """True when ``<api>/health`` answers ``true``."""
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=timeout) as response:
            return bool(response.status == 200 and response.read().strip() == b"true")
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _pid_path(home: Path) -> Path:
    return home / "server.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(home: Path) -> int | None:
    try:
        pid = int(_pid_path(home).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def ensure_server(home: Path, port: int = DEFAULT_PORT, timeout: float = 120.0) -> ServerInfo:
    """Reuse a healthy server on ``port`` or start one in the background, detached from us.

    The server keeps running after this process exits so the user can look at the UI;
    ``stop_server`` stops it.
    """
    api = api_url(port)
    if is_healthy(api):
        return ServerInfo(api_url=api, ui_url=ui_url_for(api), pid=_read_pid(home), started=False)
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "server.log"
    prefect_bin = Path(sys.executable).with_name("prefect")
    command = (
        [str(prefect_bin), "server", "start", "--host", HOST]
        if prefect_bin.exists()
        else [sys.executable, "-m", "prefect", "server", "start", "--host", HOST]
    )
    env = dict(os.environ)
    env.update(
        {
            "PREFECT_HOME": str(home.resolve()),
            "PREFECT_SERVER_API_HOST": HOST,
            "PREFECT_SERVER_API_PORT": str(port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_API_URL": api,
        }
    )
    env.pop("PREFECT_API_URL", None)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    _pid_path(home).write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_healthy(api):
            return ServerInfo(api_url=api, ui_url=ui_url_for(api), pid=process.pid, started=True, log_path=log_path)
        if process.poll() is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
            raise ConfigError(
                f"the Prefect server exited with code {process.returncode} (is port {port} taken? "
                f"set SQLFLEET_PREFECT_PORT). Last lines of {log_path}:\n{tail}"
            )
        time.sleep(0.5)
    process.terminate()
    raise DeadlineExceededError(
        f"the Prefect server did not become healthy on {api} within {timeout:.0f} s; see {log_path}"
    )


def stop_server(home: Path, timeout: float = 15.0) -> int | None:
    """Stop the server this project started (by its pid file); returns the pid, or None."""
    pid = _read_pid(home)
    if pid is None:
        _pid_path(home).unlink(missing_ok=True)
        return None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    _pid_path(home).unlink(missing_ok=True)
    return pid
