"""A real HTTP receiver on loopback that checks webhook signatures as a customer's system would."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from crm.webhooks.rules import SIGNATURE_HEADER, verify
from tests.smtp_sink import free_port


class _Handler(BaseHTTPRequestHandler):
    receiver: WebhookReceiver

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        r = self.server.receiver
        with r.lock:
            r.requests.append({"headers": dict(self.headers), "body": body, "path": self.path,
                               "valid": verify(r.secret, self.headers.get(SIGNATURE_HEADER, ""), body, r.clock())
                               if r.secret else None})
            status, extra = r.status, r.headers
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        answer = r.answer if isinstance(r.answer, bytes) else r.answer.encode()
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):  # quiet
        pass


class WebhookReceiver:
    """`start()`, then read `requests`; `status`/`answer`/`headers` decide the reply."""

    def __init__(self, port: int | None = None, secret: str | None = None):
        self.port = port or free_port()
        self.secret = secret
        self.status, self.answer, self.headers = 200, b'{"ok":true}', {}
        self.requests: list[dict] = []
        # What "now" is for the signature's freshness: tests that deliver as of a fixed instant set it.
        self.clock = time.time
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/fideliza"

    def start(self) -> WebhookReceiver:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._server.receiver = self
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def types(self) -> list[str]:
        return [e["type"] for e in self.events()]
