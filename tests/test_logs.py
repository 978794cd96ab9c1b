"""Logs write nothing of documents, variables, tokens or rows, in either format: the text
format cuts PostgreSQL's DETAIL as the JSON one does, and `serve` leaves uvicorn's access
log (which would write query strings, variables included) off."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import pytest
import uvicorn

import server
from schema import logs
from schema.logs import JsonFormatter, TextFormatter

ROW = "Failing row contains (1, 7, secret note body\nsecond line)"


def _failed_save() -> logging.LogRecord:
    """A record of a PostgreSQL error whose DETAIL echoes a row, in the message and in
    the exception's chain."""
    error = asyncpg.CheckViolationError('new row violates check constraint "notes_body_check"')
    error.detail = ROW
    record = logging.LogRecord(
        "inbox.graphql",
        logging.ERROR,
        __file__,
        1,
        "failed: %s",
        (f"{error}\nDETAIL: {ROW}",),
        None,
    )
    try:
        raise RuntimeError("while saving") from error
    except RuntimeError as wrapped:
        record.exc_info = (RuntimeError, wrapped, wrapped.__traceback__)
    record.request_id = "trace-7"
    return record


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()], ids=["text", "json"])
def test_postgres_detail_is_cut_in_both_formats(formatter: logging.Formatter) -> None:
    line = formatter.format(_failed_save())

    assert "notes_body_check" in line
    assert "trace-7" in line
    assert "secret note body" not in line
    assert "second line" not in line


def test_a_text_line_reads_as_before_with_the_request_fields() -> None:
    record = logging.LogRecord(
        "inbox.requests", logging.INFO, __file__, 1, "%s %s %s", ("POST", "/graphql", 200), None
    )
    record.request_id = "trace-8"
    record.status = 200

    assert TextFormatter().format(record) == (
        "INFO inbox.requests: POST /graphql 200 request_id=trace-8 status=200"
    )


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield root
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_log_format_text_installs_the_redacting_formatter(root_logger: logging.Logger) -> None:
    logs.install("text")
    assert [type(handler.formatter) for handler in root_logger.handlers] == [TextFormatter]
    assert root_logger.level == logging.INFO


@pytest.mark.parametrize(
    ("level", "expected"),
    [("warning", logging.WARNING), ("DEBUG", logging.DEBUG), ("trace", 5), ("", logging.INFO)],
)
def test_the_log_level_decides_which_lines_are_written(
    root_logger: logging.Logger, level: str, expected: int
) -> None:
    logs.install("json", level)

    assert root_logger.level == expected
    # The line Observability writes for every request is an INFO one.
    assert logging.getLogger("inbox.requests").isEnabledFor(logging.INFO) is (
        expected <= logging.INFO
    )


def test_an_unknown_log_level_is_refused(root_logger: logging.Logger) -> None:
    with pytest.raises(ValueError, match="LOG_LEVEL must be one of critical, error"):
        logs.install("json", "loud")


def test_serve_turns_uvicorns_access_log_off_and_passes_the_log_level_on(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(server, "_stop_on_signals", lambda: None)
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    monkeypatch.setattr(server, "serve_workers", lambda workers, options: calls.append(options))
    # serve() sets these for its workers; the test's environment gets them back after.
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv(logs.LOG_FORMAT_ENV, "")
    monkeypatch.setenv(logs.LOG_LEVEL_ENV, "")
    monkeypatch.setenv("INBOX_GRAPHIQL_TOKEN", "")
    args = argparse.Namespace(
        database_url=database,
        demo=False,
        host="127.0.0.1",
        port=8000,
        workers=1,
        log_level="warning",
    )

    # In a thread of its own: serve() uses asyncio.run, which would unset this thread's
    # event loop, which the asynchronous tests of the session share.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(server.serve, args).result()
        thread.submit(server.serve, argparse.Namespace(**{**vars(args), "workers": 2})).result()

    assert [(call["access_log"], call["log_config"]) for call in calls] == [(False, None)] * 2
    # Given to uvicorn, and to the workers, whose create_app() reads it
    assert [call["log_level"] for call in calls] == ["warning"] * 2
    assert os.environ[logs.LOG_LEVEL_ENV] == "warning"


@pytest.mark.parametrize(
    ("message", "extra"),
    [
        ("plain", 7),
        ("é 😀 and a lone \ud800 surrogate", 7),  # orjson refuses the surrogate
        ("an integer past 64 bits", 2**70),  # and the integer
    ],
    ids=["plain", "surrogate", "big-int"],
)
def test_a_json_line_is_written_whatever_the_values(message: str, extra: int) -> None:
    import json

    record = logging.LogRecord("inbox.http", logging.INFO, __file__, 1, message, None, None)
    record.request_id = "r-1"
    record.sql_statements = extra

    entry = json.loads(JsonFormatter().format(record))

    assert entry["message"] == message
    assert entry["level"] == "INFO"
    assert entry["logger"] == "inbox.http"
    assert entry["sql_statements"] == extra
