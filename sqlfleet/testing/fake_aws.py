"""moto and the fake DMS on one local port, for tests, benchmarks and offline runs (a test double).

Requests whose ``X-Amz-Target`` names the DMS API go to the ``FakeDms``; everything else (S3 for
the lake, IAM, STS, ...) goes to moto's own server application, exactly as ``ThreadedMotoServer``
serves it (moto runs in this process). One ``endpoint_url`` therefore serves every AWS client
of a run, as ``SQLFLEET_AWS_ENDPOINT_URL`` expects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from sqlfleet.testing.fake_dms import DMS_TARGET_PREFIX, FakeDms, FakeDmsConfig
from sqlfleet.testing.fake_dms_data import LakeWriter

#: Credentials moto accepts (any would do); never real ones.
ACCESS_KEY = "testing"
SECRET_KEY = "testing"


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without a log line per request."""

    def log(self, type: str, message: str, *args: Any) -> None:
        return


class FakeAwsServer:
    """``with FakeAwsServer() as aws:`` → ``aws.endpoint_url``, ``aws.dms`` (the ``FakeDms``), ``aws.client(...)``."""

    def __init__(self, config: FakeDmsConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._config = config
        self._host = host
        self._port = port
        self._moto = DomainDispatcherApplication(create_backend_app)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.dms: FakeDms = FakeDms(config)
        self.region = (config or FakeDmsConfig()).region

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>`` once started."""
        if self._server is None:
            raise RuntimeError("FakeAwsServer is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeAwsServer:
        """Bind the port and serve in a daemon thread."""
        self._server = make_server(self._host, self._port, self._route, threaded=True, request_handler=_QuietHandler)
        self.new_dms(self._config)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-aws", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (waits for the task runs of the fake DMS to end first)."""
        try:
            self.dms.wait_for_runs(timeout=30)
        finally:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=10)

    def new_dms(self, config: FakeDmsConfig | None = None) -> FakeDms:
        """Replace the fake DMS with an empty one (S3 and the other moto services keep their state)."""
        writer = LakeWriter(self.endpoint_url, region=self.region, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
        self.dms = FakeDms(config, writer=writer)
        return self.dms

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for ``service`` on this server with the fake credentials."""
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            **kwargs,
        )

    def _route(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(DMS_TARGET_PREFIX):
            return self.dms(environ, start_response)
        return self._moto(environ, start_response)

    def __enter__(self) -> FakeAwsServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
