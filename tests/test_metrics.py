"""GET /metrics (Prometheus) and the structured request logs, through the real app."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import server
from resolvers.persisted_queries import sha256_hex
from schema import logs
from schema.logs import JsonFormatter
from schema.metrics import OperationNames
from tests.conftest import Org

PROBE = "query MetricsProbe { contacts(first: 5) { nodes { name } } }"
UNKNOWN_FIELD = "query Broken { viewer { shoeSize } }"
FIRST_CONTACT = "{ contacts(first: 1) { nodes { id } } }"
ADD_NOTE = """
mutation AddNote($input: AddContactNoteInput!) {
  addContactNote(input: $input) { note { id } userErrors { code } }
}
"""


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_requests_latency_and_statements_by_operation(
    demo_org: Org, client: httpx.AsyncClient
) -> None:
    # given
    before = await scrape(client)
    operation = {"operation_name": "MetricsProbe", "operation_type": "query"}

    # when: the same operation three times (its series are found once, then reused)
    replies = [await demo_org.agent(PROBE) for _ in range(3)]
    after = await scrape(client)

    # then
    assert all(reply.status == 200 and reply.statements > 0 for reply in replies)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("graphql_requests_total", **operation, status="200") == 3
    assert delta("graphql_request_duration_seconds_count", **operation) == 3
    assert delta("graphql_request_duration_seconds_bucket", **operation, le="+Inf") == 3
    assert delta("graphql_sql_statements_count", **operation) == 3
    assert delta("graphql_sql_statements_sum", **operation) == sum(r.statements for r in replies)


async def test_errors_by_code(demo_org: Org, anonymous: object, client: httpx.AsyncClient) -> None:
    before = await scrape(client)

    broken = await demo_org.agent(UNKNOWN_FIELD)
    refused = await client.post("/graphql", json={"query": PROBE})
    after = await scrape(client)

    assert broken.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert refused.status_code == 401
    for code in ("GRAPHQL_VALIDATION_FAILED", "UNAUTHENTICATED"):
        assert value(after, "graphql_errors_total", code=code) == (
            value(before, "graphql_errors_total", code=code) + 1
        )
    unknown = {"operation_name": "unknown", "operation_type": "unknown", "status": "401"}
    assert value(after, "graphql_requests_total", **unknown) == (
        value(before, "graphql_requests_total", **unknown) + 1
    )


async def test_the_database_pool(client: httpx.AsyncClient, demo_org: Org) -> None:
    await demo_org.agent(PROBE)

    samples = await scrape(client)

    in_use = value(samples, "db_pool_connections", state="in_use")
    idle = value(samples, "db_pool_connections", state="idle")
    assert in_use >= 0
    assert idle >= 1  # the probe's connection went back to the pool
    assert value(samples, "db_pool_max_connections") == 10
    assert in_use + idle <= 10


async def test_persisted_query_outcomes(demo_org: Org, client: httpx.AsyncClient) -> None:
    document = PROBE.replace("first: 5", "first: 4")
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}}
    headers = {"Authorization": f"Bearer {demo_org.agent.token}"}
    before = await scrape(client)

    for body in (
        {"extensions": extensions},
        {"query": document, "extensions": extensions},
        {"extensions": extensions},
    ):
        await client.post("/graphql", json=body, headers=headers)
    after = await scrape(client)

    for outcome in ("miss", "registered", "hit"):
        name = "graphql_persisted_queries_total"
        assert value(after, name, outcome=outcome) - value(before, name, outcome=outcome) == 1


def test_operation_names_stay_few() -> None:
    names = OperationNames(limit=2)
    assert names.label("A", known=True) == "A"
    assert names.label("B", known=True) == "B"
    assert names.label("C", known=True) == "other"
    assert names.label("A", known=True) == "A"
    assert names.label(None, known=True) == "anonymous"
    assert names.label("not a name!", known=True) == "other"
    assert names.label("A", known=False) == "unknown"


async def test_a_metrics_token_guards_the_endpoint(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRICS_TOKEN", "scrape-me")
    application = server.create_app(server.Settings.from_env(database))
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://guarded") as http:
        refused = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        allowed = await http.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert (refused.status_code, wrong.status_code, allowed.status_code) == (401, 401, 200)
    assert "graphql_requests_total" in allowed.text or "graphql_requests" in allowed.text


# --- logs ------------------------------------------------------------------------------


def formatted(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = JsonFormatter()
    return [formatter.format(record) for record in caplog.records]


async def test_one_json_line_per_request_with_its_id_and_operation(
    demo_org: Org, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="inbox.requests")

    reply = await demo_org.agent(PROBE)

    lines = [
        json.loads(line)
        for line, record in zip(formatted(caplog), caplog.records, strict=True)
        if record.name == "inbox.requests"
    ]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == reply.headers["x-request-id"]
    assert line["message"] == "POST /graphql 200"
    assert (line["method"], line["path"], line["status"]) == ("POST", "/graphql", 200)
    assert (line["operation_name"], line["operation_type"]) == ("MetricsProbe", "query")
    assert line["sql_statements"] == reply.statements
    assert line["agent_id"] == demo_org.agent_id
    assert line["organization_id"] == demo_org.id
    assert line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float)


async def test_logs_never_carry_tokens_or_note_bodies(
    demo_org: Org, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_body = "The customer's private address is 221B Baker Street"
    contact = (await demo_org.agent(FIRST_CONTACT)).data["contacts"]["nodes"][0]

    added = await demo_org.agent(
        ADD_NOTE, {"input": {"contactId": contact["id"], "body": secret_body}}
    )
    broken = await demo_org.agent(UNKNOWN_FIELD.replace("shoeSize", f'notes(x: "{secret_body}")'))

    assert added.data["addContactNote"]["userErrors"] == []
    assert broken.errors
    text = "\n".join(formatted(caplog))
    assert "AddNote" in text
    assert secret_body not in text
    assert str(demo_org.agent.token) not in text


async def test_the_callers_request_id_is_kept_and_a_bad_one_replaced(
    demo_org: Org, client: httpx.AsyncClient
) -> None:
    headers = {"Authorization": f"Bearer {demo_org.agent.token}"}

    kept = await client.post(
        "/graphql", json={"query": PROBE}, headers={**headers, "X-Request-Id": "trace-42"}
    )
    replaced = await client.post(
        "/graphql", json={"query": PROBE}, headers={**headers, "X-Request-Id": "x" * 65}
    )
    health = await client.get("/healthz")

    assert kept.headers["x-request-id"] == "trace-42"
    assert len(replaced.headers["x-request-id"]) == 32
    assert len(health.headers["x-request-id"]) == 32


def test_postgres_detail_is_cut_from_messages_and_tracebacks() -> None:
    error = asyncpg.CheckViolationError('new row violates check constraint "notes_body_check"')
    error.detail = "Failing row contains (1, 7, secret note body\nsecond line)"
    record = logging.LogRecord(
        "inbox.graphql", logging.ERROR, __file__, 1, "failed: %s", (str(error),), None
    )
    try:
        raise RuntimeError("while saving") from error
    except RuntimeError as wrapped:
        record.exc_info = (RuntimeError, wrapped, wrapped.__traceback__)

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == 'failed: new row violates check constraint "notes_body_check"'
    assert "notes_body_check" in line["exception"]
    assert "secret note body" not in json.dumps(line)
    assert "second line" not in json.dumps(line)


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield root
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_log_format_json_sends_everything_to_stderr_as_json(root_logger: logging.Logger) -> None:
    logs.install("json")
    assert [type(handler.formatter) for handler in root_logger.handlers] == [JsonFormatter]
    assert root_logger.level == logging.INFO


def test_no_log_format_leaves_logging_alone(root_logger: logging.Logger) -> None:
    handlers = root_logger.handlers[:]
    logs.install(None)
    assert root_logger.handlers == handlers
    with pytest.raises(ValueError, match="LOG_FORMAT must be one of json, text"):
        logs.install("xml")
