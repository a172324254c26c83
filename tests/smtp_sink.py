"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for tests and benchmarks."""
from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections import Counter

from aiosmtpd.controller import Controller

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>]+>)", re.IGNORECASE | re.MULTILINE)


def message_id(content: bytes) -> str | None:
    match = MESSAGE_ID.search(content)
    return match.group(1).decode() if match else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.sink.refuse.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        content = envelope.original_content or envelope.content
        with self.sink.lock:
            self.sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), content))
            self.sink.ids[message_id(content)] += 1
        return "250 Message accepted"


class SmtpSink:
    """Start with `start()`, read `messages` [(from, [to], bytes)] and `ids` (Message-ID counts)."""

    def __init__(self, port: int | None = None, delay: float = 0.0):
        self.port = port or free_port()
        self.delay = delay
        self.refuse: dict[str, str] = {}  # recipient -> SMTP reply, e.g. "550 no such user"
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.ids: Counter = Counter()
        self.lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                      data_size_limit=10 * 1024 * 1024)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def count(self) -> int:
        with self.lock:
            return len(self.messages)
