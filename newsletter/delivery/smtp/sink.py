"""A local SMTP server that keeps what it receives as .eml and .html files, for the demo and
the tests: the real protocol on 127.0.0.1, nothing leaves the machine."""

from __future__ import annotations

import re
import socket
import threading
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller


class _SaveHandler:
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.saved: list[Path] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or envelope.content
        for recipient in envelope.rcpt_tos:
            with self._lock:
                stem = f"{len(self.saved) + 1:05d}-{re.sub(r'[^A-Za-z0-9@._-]', '_', recipient)}"
                eml = self.out_dir / f"{stem}.eml"
                eml.write_bytes(data)
                self.saved.append(eml)
            message = message_from_bytes(data, policy=default)
            assert isinstance(message, EmailMessage)
            html = message.get_body(preferencelist=("html",))
            if html is not None:
                page = str(html.get_content()).replace("\r\n", "\n")  # SMTP's CRLF, not a file's
                (self.out_dir / f"{stem}.html").write_text(page, "utf-8")
        return "250 Message accepted for delivery"


class SavingSmtpServer:
    """`with SavingSmtpServer(dir) as server:` listens on host:server.port while the block runs."""

    def __init__(self, out_dir: Path, host: str = "127.0.0.1", **smtp_options: Any) -> None:
        """`smtp_options` go to aiosmtpd's SMTP (`enable_SMTPUTF8=True`, `timeout=2`)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        self._handler = _SaveHandler(out_dir)
        self.host = host
        self.port = free_port(host)
        self._controller = Controller(self._handler, hostname=host, port=self.port, **smtp_options)

    @property
    def saved(self) -> list[Path]:
        """The .eml files written so far, in arrival order."""
        return list(self._handler.saved)

    def __enter__(self) -> SavingSmtpServer:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._controller.stop()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now: for servers (aiosmtpd's controller among them) that must
    be told theirs before they start."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
