"""The soak's SMTP server on loopback: it keeps every Message-ID it accepts and can be
stopped and started again on the same port (the "SMTP down for a minute" fault)."""
from __future__ import annotations

import threading
from collections import Counter

from aiosmtpd.controller import Controller

from tests.smtp_sink import free_port, message_id

__all__ = ["MailSink", "free_port", "message_id"]


class _Handler:
    def __init__(self, sink: MailSink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        with self.sink.lock:
            self.sink.ids[message_id(envelope.original_content or envelope.content)] += 1
        return "250 Message accepted"


class MailSink:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.ids: Counter = Counter()  # Message-ID -> how many times it arrived
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> MailSink:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self) -> Counter:
        with self.lock:
            return Counter(self.ids)
