"""Logs for people (``LIVEBLOG_LOG_FORMAT=text``) or for log pipelines (``json``).

``json`` writes one object per line: ``ts`` (RFC 3339, UTC), ``level``, ``logger``, ``msg``, and
whatever the record carries of ``method``, ``path``, ``status``, ``duration_ms``,
``request_id``, ``client`` (the access log's fields; a record logged while a request is being
answered carries that request's id too), then ``exc`` with a traceback. The configuration is
uvicorn's ``log_config``, so uvicorn's own records (start, stop, its warnings) come out the same
way, and every worker process applies it.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

import msgspec

from liveblog.config import Settings

# The id of the request being answered, for every record logged meanwhile (see ``access``).
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "liveblog_request_id", default=None
)

_FIELDS = ("method", "path", "status", "duration_ms", "request_id", "client")
_encoder = msgspec.json.Encoder()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for field in _FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = value
        if "request_id" not in line and (current := request_id.get()) is not None:
            line["request_id"] = current
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return _encoder.encode(line).decode()


_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def config(settings: Settings) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` (and uvicorn ``log_config``) for these settings."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if settings.log_format == "json" else {"format": _TEXT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"liveblog": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "liveblog",
                "stream": "ext://sys.stderr",
            }
        },
        # Everything goes up to the root's one handler: uvicorn's loggers too.
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": "INFO", "handlers": [], "propagate": True},
            "uvicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            # liveblog's access log replaces uvicorn's (see ``access``).
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }


def configure(settings: Settings) -> None:
    """Apply ``config`` now (``liveblog serve`` does, before uvicorn applies it again)."""
    logging.config.dictConfig(config(settings))
