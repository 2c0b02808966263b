"""The local cloud's own output stays readable: one line per record, long messages cut.

A record's message (moto's, a component's, a library's) can carry a whole request or response
payload; printed as is, one failure fills a screen. ``ReadableFormatter`` writes each record on one
line (line breaks shown as ``⏎``) and cuts a message longer than ``MAX_CHARS`` to that many
characters plus ``… (N more chars)``. A traceback is kept, on its own lines, but cut the same way.
"""

from __future__ import annotations

import logging

MAX_CHARS = 800  # room for an AccessDenied message with its ARNs; not for a payload
FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def cut(text: str, limit: int = MAX_CHARS) -> str:
    """``text`` on one line, at most ``limit`` characters of it kept."""
    one_line = text.replace("\r\n", "\n").replace("\n", " ⏎ ")
    if len(one_line) <= limit:
        return one_line
    return f"{one_line[:limit]}… ({len(one_line) - limit} more chars)"


class ReadableFormatter(logging.Formatter):
    def __init__(self, fmt: str = FORMAT, limit: int = MAX_CHARS):
        super().__init__(fmt)
        self.limit = limit

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = cut(record.message, self.limit)
        return super().formatMessage(record)

    def formatException(self, ei: object) -> str:  # noqa: N802
        text = super().formatException(ei)  # type: ignore[arg-type]
        limit = self.limit * 8  # a traceback is worth more than a payload, but not unbounded
        return text if len(text) <= limit else f"…{text[-limit:]}"


def configure(level: int = logging.WARNING) -> None:
    """Log to stderr, readably (what ``localcloud up`` does)."""
    logging.basicConfig(level=level, format=FORMAT)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(ReadableFormatter())
