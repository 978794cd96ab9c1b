"""Logs on stderr: one JSON object per line (`json`), or plain lines (`text`).

A line carries the time (JSON only), level, logger and message, the request fields the
app attaches (FIELDS) and an exception's traceback. Nothing else of a record is written:
other libraries attach whole execution contexts (documents, variables, so note bodies)
to their records. In both formats PostgreSQL's DETAIL, which echoes row values, is cut
from messages and tracebacks.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from types import TracebackType

import orjson

LOG_FORMAT_ENV = "LOG_FORMAT"
FORMATS = ("json", "text")
LOG_LEVEL_ENV = "LOG_LEVEL"
# The names of `serve --log-level`, uvicorn's: trace is its level below debug.
LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": 5,
}

# Only these record attributes reach a JSON line; none may hold a token or a note body.
FIELDS = (
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "operation_name",
    "operation_type",
    "sql_statements",
    "error_codes",
    "persisted_query",
    "agent_id",
    "organization_id",
)

_DETAIL = re.compile(r"\nDETAIL: .*?(?=\nHINT: |\Z)", re.DOTALL)
_REDACTED = "[redacted]"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class _Redacting(logging.Formatter):
    """What both formats write of a record, without PostgreSQL's DETAIL. A record's
    cached exc_text is never used: another handler may have formatted it unredacted."""

    def message(self, record: logging.LogRecord) -> str:
        return _DETAIL.sub("", record.getMessage())

    def fields(self, record: logging.LogRecord) -> dict[str, object]:
        values = {name: record.__dict__.get(name) for name in FIELDS}
        return {name: value for name, value in values.items() if value is not None}

    def exception(self, record: logging.LogRecord) -> str | None:
        if not record.exc_info or record.exc_info[1] is None:
            return None
        return self.formatException(record.exc_info)

    def formatException(self, ei: ExcInfo) -> str:  # noqa: N802 (logging's name)
        text = super().formatException(ei)
        for secret in _row_values(ei[1]):
            text = text.replace(secret, _REDACTED)
        return text


class JsonFormatter(_Redacting):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.message(record),
            **self.fields(record),
        }
        exception = self.exception(record)
        if exception is not None:
            entry["exception"] = exception
        try:
            # A line per request: orjson is several times faster than json.
            return orjson.dumps(entry, default=str).decode()
        except (orjson.JSONEncodeError, UnicodeDecodeError):
            # What orjson refuses (a lone surrogate, an integer past 64 bits) json writes.
            return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(_Redacting):
    """`LEVEL logger: message key=value …`, then the traceback, if any."""

    def format(self, record: logging.LogRecord) -> str:
        line = " ".join(
            [
                f"{record.levelname} {record.name}: {self.message(record)}",
                *(f"{name}={value}" for name, value in self.fields(record).items()),
            ]
        )
        exception = self.exception(record)
        return line if exception is None else f"{line}\n{exception}"


def _row_values(error: BaseException | None) -> list[str]:
    """DETAIL and HINT texts of the PostgreSQL errors in an exception's chain."""
    found: list[str] = []
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        for name in ("detail", "hint"):
            value = getattr(error, name, None)
            if isinstance(value, str) and value:
                found.append(value)
        error = error.__cause__ or error.__context__
    return found


def install(log_format: str | None, level: str | None = None) -> None:
    """Sends every log record of `level` (a name of LEVELS; info when None or empty) and
    above to stderr as `json` or `text`, replacing the root logger's handlers (uvicorn's
    worker processes configure none of their own). At warning and above, the line
    Observability writes for every request is not written. None or an empty format
    leaves logging as it is. Raises ValueError for another format or level."""
    if not log_format:
        return
    if log_format not in FORMATS:
        raise ValueError(
            f"{LOG_FORMAT_ENV} must be one of {', '.join(FORMATS)}, not {log_format!r}"
        )
    name = (level or "info").lower()
    if name not in LEVELS:
        raise ValueError(f"{LOG_LEVEL_ENV} must be one of {', '.join(LEVELS)}, not {level!r}")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=LEVELS[name], handlers=[handler], force=True)
