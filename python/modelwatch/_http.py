"""A minimal HTTP/1.1 client on the standard library (``http.client``), one kept-alive
connection per thread, so the package depends on nothing but numpy and pandas.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from typing import Any

from .errors import ApiError


class Response:
    """A status, headers and body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        """Keeps the parts of an answer."""
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body.decode("utf-8"))

    def retry_after(self) -> float | None:
        """``Retry-After`` in seconds, when it is given as a number."""
        value = self.headers.get("retry-after")
        try:
            return max(0.0, float(value)) if value is not None else None
        except ValueError:
            return None

    def raise_for_status(self, what: str) -> None:
        """Raises :class:`ApiError` for a status of 400 and above."""
        if self.status < 400:
            return
        code, message, field = "http_error", self.body.decode("utf-8", "replace"), None
        try:
            error = self.json()["error"]
            code, message, field = error.get("code"), error.get("message"), error.get("field")
        except (ValueError, KeyError, TypeError):
            pass
        raise ApiError(self.status, str(code), f"{what}: {message}", field)


class Transport:
    """Requests to one server, with a bearer token when one is given."""

    def __init__(self, url: str, token: str | None, timeout: float = 60.0) -> None:
        """Parses ``url`` (``http://`` or ``https://``)."""
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url.rstrip("/")
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port
        self._prefix = parsed.path.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = kind(self._host, self._port, timeout=self._timeout)
            self._local.connection = connection
        return connection

    def close(self) -> None:
        """Closes this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        query: dict[str, Any] | None = None,
    ) -> Response:
        """Sends one request; a network error raises ``OSError`` (the caller retries)."""
        target = self._prefix + path
        if query:
            pairs = {k: v for k, v in query.items() if v is not None}
            if pairs:
                target += "?" + urllib.parse.urlencode(pairs)
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        connection = self._connection()
        try:
            connection.request(method, target, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise ConnectionError(f"{method} {self.url}{target}: {error}") from error
        if answer.getheader("connection", "").lower() == "close":
            self.close()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
