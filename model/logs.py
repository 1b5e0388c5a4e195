"""Structured logging on top of the standard library.

Contract: `configure()` once per process; then `get_logger(name).info("event", key=value, ...)` writes one record
whose fields are kept apart from the message: a JSON object per line in `json` mode, `event key=value ...` in
`console` mode. It knows nothing about what is logged.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

_FIELDS = "_fields"


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        payload.update(getattr(record, _FIELDS, {}))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(payload, default=str).decode()


class _ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        fields = " ".join(f"{k}={v}" for k, v in getattr(record, _FIELDS, {}).items())
        line = f"{stamp} {record.levelname.lower():7s} {record.name}: {record.getMessage()} {fields}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class StructuredLogger(logging.LoggerAdapter[logging.Logger]):
    """`log.info("event", users=3)`: keyword arguments become structured fields."""

    def _log_fields(self, level: int, msg: str, fields: dict[str, Any], exc_info: bool = False) -> None:
        if self.logger.isEnabledFor(level):
            self.logger.log(level, msg, extra={_FIELDS: fields}, exc_info=exc_info, stacklevel=3)

    def debug(self, msg: str, *args: Any, **fields: Any) -> None:  # type: ignore[override]
        self._log_fields(logging.DEBUG, msg, fields)

    def info(self, msg: str, *args: Any, **fields: Any) -> None:  # type: ignore[override]
        self._log_fields(logging.INFO, msg, fields)

    def warning(self, msg: str, *args: Any, **fields: Any) -> None:  # type: ignore[override]
        self._log_fields(logging.WARNING, msg, fields)

    def error(self, msg: str, *args: Any, **fields: Any) -> None:  # type: ignore[override]
        self._log_fields(logging.ERROR, msg, fields)

    def exception(self, msg: str, *args: Any, **fields: Any) -> None:  # type: ignore[override]
        self._log_fields(logging.ERROR, msg, fields, exc_info=True)


def configure(level: str = "INFO", fmt: str = "console") -> None:
    """Route every logger to stderr in the chosen format; safe to call more than once."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def get_logger(name: str) -> StructuredLogger:
    return StructuredLogger(logging.getLogger(name), {})
