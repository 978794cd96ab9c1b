"""Persisted documents: Apollo's automatic persisted queries (the default) and trusted
documents only (GRAPHQL_TRUSTED_DOCUMENTS), through the real app."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

import server
from resolvers.persisted_queries import (
    DocumentCache,
    InvalidPersistedQuery,
    ManifestError,
    PersistedQueries,
    PersistedQueryNotFound,
    PersistedQueryNotInList,
    PersistedQueryNotSupported,
    load_manifest,
    sha256_hex,
)
from schema.negotiation import GRAPHQL_RESPONSE_JSON
from tests.conftest import Org

VIEWER = "query Viewer { viewer { name } }"
CONTACT_COUNT = "query ContactCount { contacts { totalCount } }"
FIRST_NOTE = "{ contacts(first: 50) { nodes { notes(first: 1) { nodes { id body } } } } }"
NOTE_BODY = "query ($id: ID!) { node(id: $id) { ... on Note { body } } }"
UPDATE_NOTE = """mutation UpdateNote($input: UpdateNoteInput!) {
  updateNote(input: $input) { note { body } userErrors { code } }
}"""


def unique_document() -> str:
    """A document no earlier request registered (the session's app keeps its cache)."""
    return f"query Probe {{ viewer {{ name }} probe_{uuid.uuid4().hex}: __typename }}"


def persisted(document: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}}


async def send(
    client: httpx.AsyncClient,
    token: str,
    body: dict[str, Any],
    *,
    accept: str = "application/json",
) -> httpx.Response:
    return await client.post(
        "/graphql",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Accept": accept},
    )


def code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


# --- the rules, without HTTP ----------------------------------------------------------


def test_an_unknown_hash_is_not_found_then_learnt_from_the_document() -> None:
    queries = PersistedQueries()
    document = unique_document()
    with pytest.raises(PersistedQueryNotFound):
        queries.resolve(None, persisted(document))
    lookup = queries.resolve(document, persisted(document))
    assert lookup is not None
    assert (lookup.query, lookup.source, lookup.remember) == (
        document,
        "text",
        sha256_hex(document),
    )
    queries.remember(sha256_hex(document), document)
    again = queries.resolve(None, persisted(document))
    assert again is not None
    assert (again.query, again.source) == (document, "cache")


@pytest.mark.parametrize(
    "extensions",
    [
        {"persistedQuery": "abc"},
        {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}},
        {"persistedQuery": {"version": True, "sha256Hash": "0" * 64}},
        {"persistedQuery": {"version": 1, "sha256Hash": "xyz"}},
        {"persistedQuery": {"version": 1}},
    ],
)
def test_a_malformed_extension_is_refused(extensions: dict[str, Any]) -> None:
    with pytest.raises(InvalidPersistedQuery):
        PersistedQueries().resolve(None, extensions)


def test_a_hash_that_is_not_the_documents_is_refused() -> None:
    with pytest.raises(InvalidPersistedQuery, match="provided sha does not match query"):
        PersistedQueries().resolve(VIEWER, persisted(CONTACT_COUNT))


def test_a_cache_size_of_zero_turns_apq_off() -> None:
    queries = PersistedQueries.from_env({"GRAPHQL_APQ_CACHE_SIZE": "0"})
    with pytest.raises(PersistedQueryNotSupported):
        queries.resolve(VIEWER, persisted(VIEWER))
    lookup = queries.resolve(VIEWER, None)
    assert lookup is not None
    assert lookup.query == VIEWER


def test_the_cache_forgets_the_least_recently_used_documents() -> None:
    cache = DocumentCache(max_entries=2, max_characters=100)
    cache.put("a", "A" * 10)
    cache.put("b", "B" * 10)
    assert cache.get("a") == "A" * 10  # a is now the most recent
    cache.put("c", "C" * 10)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A" * 10, None, "C" * 10)
    cache.put("d", "D" * 95)  # over the character budget: the older ones go
    assert (len(cache), cache.get("d")) == (1, "D" * 95)
    cache.put("e", "E" * 101)  # larger than the whole budget: not kept
    assert cache.get("e") is None


def test_trusted_documents_allow_only_the_manifest() -> None:
    queries = PersistedQueries(trusted={sha256_hex(VIEWER): VIEWER})
    by_hash = queries.resolve(None, persisted(VIEWER))
    by_text = queries.resolve(VIEWER, None)
    assert by_hash is not None
    assert by_text is not None
    assert (by_hash.query, by_text.query, by_text.remember) == (VIEWER, VIEWER, None)
    with pytest.raises(PersistedQueryNotInList):
        queries.resolve(CONTACT_COUNT, None)
    with pytest.raises(PersistedQueryNotInList):
        queries.resolve(None, persisted(CONTACT_COUNT))
    with pytest.raises(PersistedQueryNotInList):
        queries.resolve(CONTACT_COUNT, persisted(CONTACT_COUNT))
    assert queries.resolve(None, None) is None


WITH_LONE_SURROGATE = "query Viewer { viewer { name } } # \ud800"


def test_a_document_with_a_lone_surrogate_has_a_hash_but_matches_none() -> None:
    digest = sha256_hex(WITH_LONE_SURROGATE)
    assert len(digest) == 64
    assert digest != sha256_hex(WITH_LONE_SURROGATE.replace("\ud800", "\ufffd"))
    with pytest.raises(InvalidPersistedQuery, match="provided sha does not match query"):
        PersistedQueries().resolve(WITH_LONE_SURROGATE, persisted(VIEWER))
    trusted = PersistedQueries(trusted={sha256_hex(VIEWER): VIEWER})
    with pytest.raises(PersistedQueryNotInList):
        trusted.resolve(WITH_LONE_SURROGATE, None)


async def test_a_document_with_a_lone_surrogate_and_a_hash_is_a_bad_request(
    demo_org: Org, client: httpx.AsyncClient
) -> None:
    # JSON.stringify sends a lone surrogate escaped, as json.dumps does
    body = json.dumps({"query": WITH_LONE_SURROGATE, "extensions": persisted(VIEWER)})

    response = await client.post(
        "/graphql",
        content=body,
        headers={
            "Authorization": f"Bearer {demo_org.agent.token}",
            "Content-Type": "application/json",
            "Accept": GRAPHQL_RESPONSE_JSON,
        },
    )

    assert response.status_code == 400
    assert code(response) == "BAD_REQUEST"
    assert response.json()["errors"][0]["message"] == "provided sha does not match query"
    assert response.headers["x-request-id"]


def test_manifests_in_both_formats_load(tmp_path: Path) -> None:
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({sha256_hex(VIEWER): VIEWER}))
    apollo = tmp_path / "apollo.json"
    apollo.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [
                    {"id": sha256_hex(VIEWER), "name": "Viewer", "type": "query", "body": VIEWER}
                ],
            }
        )
    )
    assert load_manifest(plain) == load_manifest(apollo) == {sha256_hex(VIEWER): VIEWER}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not valid JSON"),
        ("[]", "expected a JSON object"),
        ("{}", "lists no documents"),
        (json.dumps({"0" * 64: VIEWER}), "is not the SHA-256 of its document"),
        (json.dumps({sha256_hex(VIEWER): 42}), "a string document"),
    ],
)
def test_a_bad_manifest_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(content)
    with pytest.raises(ManifestError, match=message):
        load_manifest(path)


# --- APQ over HTTP ----------------------------------------------------------------------


async def test_apq_registers_a_document_then_runs_it_by_hash(
    demo_org: Org, client: httpx.AsyncClient
) -> None:
    token = demo_org.admin.token
    assert token is not None
    document = unique_document()

    # when: the hash alone, then the document with its hash, then the hash again
    unknown = await send(client, token, {"extensions": persisted(document)})
    registered = await send(client, token, {"query": document, "extensions": persisted(document)})
    by_hash = await send(
        client, token, {"extensions": persisted(document)}, accept=GRAPHQL_RESPONSE_JSON
    )

    # then
    assert unknown.status_code == 200
    assert unknown.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    assert registered.json()["data"]["viewer"] == {"name": "Alex Admin"}
    assert by_hash.status_code == 200
    assert by_hash.json()["data"]["viewer"] == {"name": "Alex Admin"}


async def test_an_unknown_hash_is_400_under_graphql_response_json(
    demo_org: Org, client: httpx.AsyncClient
) -> None:
    assert demo_org.admin.token is not None
    response = await send(
        client,
        demo_org.admin.token,
        {"extensions": persisted(unique_document())},
        accept=GRAPHQL_RESPONSE_JSON,
    )
    assert response.status_code == 400
    assert code(response) == "PERSISTED_QUERY_NOT_FOUND"


async def test_apq_works_over_get(demo_org: Org, client: httpx.AsyncClient) -> None:
    token = demo_org.admin.token
    assert token is not None
    document = unique_document()
    await send(client, token, {"query": document, "extensions": persisted(document)})

    response = await client.get(
        "/graphql",
        params={"extensions": json.dumps(persisted(document))},
        headers={"Authorization": f"Bearer {token}", "Accept": GRAPHQL_RESPONSE_JSON},
    )

    assert response.status_code == 200
    assert response.json()["data"]["viewer"] == {"name": "Alex Admin"}


async def test_a_mismatched_hash_is_refused_and_not_registered(
    demo_org: Org, client: httpx.AsyncClient
) -> None:
    token = demo_org.admin.token
    assert token is not None
    document = unique_document()
    extensions = persisted(document)

    refused = await send(client, token, {"query": VIEWER, "extensions": extensions})
    later = await send(client, token, {"extensions": extensions})

    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == "provided sha does not match query"
    assert code(later) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_document_that_does_not_parse_is_not_registered(
    demo_org: Org, client: httpx.AsyncClient
) -> None:
    token = demo_org.admin.token
    assert token is not None
    broken = unique_document() + " {"

    first = await send(client, token, {"query": broken, "extensions": persisted(broken)})
    later = await send(client, token, {"extensions": persisted(broken)})

    assert code(first) == "GRAPHQL_PARSE_FAILED"
    assert code(later) == "PERSISTED_QUERY_NOT_FOUND"


# --- trusted documents over HTTP ------------------------------------------------------


@pytest.fixture
async def trusted_client(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """An app that runs only VIEWER, FIRST_NOTE, NOTE_BODY and UPDATE_NOTE."""
    manifest = tmp_path / "trusted-documents.json"
    allowed = (VIEWER, FIRST_NOTE, NOTE_BODY, UPDATE_NOTE)
    manifest.write_text(json.dumps({sha256_hex(document): document for document in allowed}))
    monkeypatch.setenv("GRAPHQL_TRUSTED_DOCUMENTS", str(manifest))
    application: Starlette = server.create_app(server.Settings.from_env(database))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://trusted") as http:
            yield http


async def test_trusted_documents_run_by_hash_or_text(
    demo_org: Org, trusted_client: httpx.AsyncClient
) -> None:
    token = demo_org.admin.token
    assert token is not None

    by_hash = await send(trusted_client, token, {"extensions": persisted(VIEWER)})
    by_text = await send(trusted_client, token, {"query": VIEWER})

    for response in (by_hash, by_text):
        assert response.status_code == 200
        assert response.json()["data"] == {"viewer": {"name": "Alex Admin"}}


async def test_other_documents_are_refused_and_not_learnt(
    demo_org: Org, trusted_client: httpx.AsyncClient
) -> None:
    token = demo_org.admin.token
    assert token is not None

    text = await send(trusted_client, token, {"query": CONTACT_COUNT})
    strict = await send(
        trusted_client, token, {"query": CONTACT_COUNT}, accept=GRAPHQL_RESPONSE_JSON
    )
    apq = await send(
        trusted_client, token, {"query": CONTACT_COUNT, "extensions": persisted(CONTACT_COUNT)}
    )
    hash_only = await send(trusted_client, token, {"extensions": persisted(CONTACT_COUNT)})

    assert text.status_code == 200
    assert strict.status_code == 400
    for response in (text, strict, apq, hash_only):
        assert code(response) == "PERSISTED_QUERY_NOT_IN_LIST"
        assert "data" not in response.json()


async def test_an_untrusted_mutation_changes_nothing(
    demo_org: Org, trusted_client: httpx.AsyncClient
) -> None:
    # given
    token = demo_org.admin.token
    assert token is not None
    found = await demo_org.admin(FIRST_NOTE)
    note = next(
        contact["notes"]["nodes"][0]
        for contact in found.data["contacts"]["nodes"]
        if contact["notes"]["nodes"]
    )
    untrusted = UPDATE_NOTE.replace("mutation UpdateNote", "mutation Sneaky")
    variables = {"input": {"noteId": note["id"], "body": "Rewritten"}}

    # when
    refused = await send(trusted_client, token, {"query": untrusted, "variables": variables})

    # then
    assert code(refused) == "PERSISTED_QUERY_NOT_IN_LIST"
    after = await demo_org.admin(NOTE_BODY, {"id": note["id"]})
    assert after.data["node"] == {"body": note["body"]}


def test_an_unusable_manifest_stops_the_app_at_startup(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "trusted-documents.json"
    manifest.write_text(json.dumps({"0" * 64: VIEWER}))
    monkeypatch.setenv("GRAPHQL_TRUSTED_DOCUMENTS", str(manifest))
    with pytest.raises(SystemExit, match="is not the SHA-256 of its document"):
        server.create_app(server.Settings.from_env(database))
