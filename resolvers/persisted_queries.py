"""Persisted documents: Apollo's automatic persisted queries (APQ) and trusted documents.

APQ: a client sends `extensions.persistedQuery = {version: 1, sha256Hash}` without the
document; a server that knows the hash runs the document, one that does not answers
`PersistedQueryNotFound`, and the client sends the document again together with its
hash, which the server checks and remembers. Each worker process remembers documents
in its own bounded LRU cache, so a client may meet one `PersistedQueryNotFound` per
worker and document: one extra round trip, and nothing to share or invalidate.

Trusted documents: with a manifest (sha256 → document, written when the clients are
built), only the documents it lists run, whether sent by hash or in full; nothing is
learnt from requests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from resolvers.errors import ApiError

APQ_VERSION = 1
DEFAULT_CACHE_SIZE = 1000
# Documents are small; the character budget only bounds a flood of large unique ones.
DEFAULT_CACHE_CHARACTERS = 20_000_000

TRUSTED_DOCUMENTS_ENV = "GRAPHQL_TRUSTED_DOCUMENTS"
CACHE_SIZE_ENV = "GRAPHQL_APQ_CACHE_SIZE"

_SHA256 = re.compile(r"[0-9a-f]{64}")

Source = Literal["text", "cache", "manifest"]


class PersistedQueryNotFound(ApiError):
    """The hash is unknown here; the client should send the document with it."""

    code = "PERSISTED_QUERY_NOT_FOUND"

    def __init__(self) -> None:
        # Apollo's clients match this exact message (or the code) to retry.
        super().__init__("PersistedQueryNotFound")


class PersistedQueryNotSupported(ApiError):
    """Automatic persisted queries are turned off; the client should stop sending hashes."""

    code = "PERSISTED_QUERY_NOT_SUPPORTED"

    def __init__(self) -> None:
        super().__init__("PersistedQueryNotSupported")


class PersistedQueryNotInList(ApiError):
    """Only documents registered at build time run, and this one is not registered."""

    code = "PERSISTED_QUERY_NOT_IN_LIST"

    def __init__(self) -> None:
        super().__init__("Only documents registered when the clients were built are accepted")


class InvalidPersistedQuery(ApiError):
    """A malformed `persistedQuery` extension, or a hash that is not the document's."""

    code = "BAD_REQUEST"


class ConfigurationError(Exception):
    """A persisted documents setting cannot be used; the message says why."""


class ManifestError(ConfigurationError):
    """The trusted documents manifest cannot be used."""


def sha256_hex(document: str) -> str:
    """The hex SHA-256 of a document's UTF-8. A lone surrogate (which a JSON body can
    carry as `\ud800`) has no UTF-8: it is hashed as its surrogate bytes, so that such a
    document gets a hash, one that no client computes (JavaScript's encoder writes
    U+FFFD instead) and no manifest lists."""
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Lookup:
    """The document to run, where it came from, and the hash to remember once it parses."""

    query: str
    source: Source
    remember: str | None = None


class DocumentCache:
    """Least-recently-used documents by hash, bounded by count and by total characters."""

    def __init__(self, max_entries: int, max_characters: int = DEFAULT_CACHE_CHARACTERS) -> None:
        self.max_entries = max_entries
        self.max_characters = max_characters
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._characters = 0

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, sha256: str) -> str | None:
        document = self._documents.get(sha256)
        if document is not None:
            self._documents.move_to_end(sha256)
        return document

    def put(self, sha256: str, document: str) -> None:
        if len(document) > self.max_characters:
            return
        previous = self._documents.pop(sha256, None)
        if previous is not None:
            self._characters -= len(previous)
        self._documents[sha256] = document
        self._characters += len(document)
        while len(self._documents) > self.max_entries or self._characters > self.max_characters:
            _, evicted = self._documents.popitem(last=False)
            self._characters -= len(evicted)


class PersistedQueries:
    """Turns a request's `query` and `extensions` into the document to run."""

    def __init__(
        self,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
        trusted: Mapping[str, str] | None = None,
    ) -> None:
        self.cache = DocumentCache(cache_size) if cache_size > 0 and trusted is None else None
        self.trusted = dict(trusted) if trusted is not None else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> PersistedQueries:
        """GRAPHQL_TRUSTED_DOCUMENTS names a manifest (trusted documents only);
        GRAPHQL_APQ_CACHE_SIZE bounds the APQ cache (0 turns APQ off). Raises
        ConfigurationError for a setting that cannot be used."""
        raw_size = environ.get(CACHE_SIZE_ENV, "").strip()
        try:
            cache_size = int(raw_size) if raw_size else DEFAULT_CACHE_SIZE
        except ValueError:
            raise ConfigurationError(
                f"{CACHE_SIZE_ENV} must be a whole number, not {raw_size!r}"
            ) from None
        path = environ.get(TRUSTED_DOCUMENTS_ENV, "").strip()
        return cls(cache_size=cache_size, trusted=load_manifest(Path(path)) if path else None)

    def resolve(self, query: str | None, extensions: Mapping[str, object] | None) -> Lookup | None:
        """The document a request asks for; None when it names none. Raises
        PersistedQueryNotFound, PersistedQueryNotSupported, PersistedQueryNotInList or
        InvalidPersistedQuery."""
        sha256 = _persisted_hash(extensions)
        if sha256 is not None and query is not None and sha256_hex(query) != sha256:
            raise InvalidPersistedQuery("provided sha does not match query")
        if self.trusted is not None:
            if sha256 is None and query is None:
                return None
            document = self.trusted.get(sha256 if sha256 is not None else sha256_hex(query or ""))
            if document is None:
                raise PersistedQueryNotInList
            return Lookup(document, "manifest")
        if sha256 is None:
            return None if query is None else Lookup(query, "text")
        if self.cache is None:
            raise PersistedQueryNotSupported
        if query is not None:
            return Lookup(query, "text", remember=sha256)
        cached = self.cache.get(sha256)
        if cached is None:
            raise PersistedQueryNotFound
        return Lookup(cached, "cache")

    def remember(self, sha256: str, query: str) -> None:
        """Keeps a document whose hash was checked, once it is known to parse."""
        if self.cache is not None:
            self.cache.put(sha256, query)


def _persisted_hash(extensions: Mapping[str, object] | None) -> str | None:
    if not extensions or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, Mapping):
        raise InvalidPersistedQuery("extensions.persistedQuery must be an object")
    version = persisted.get("version")
    if version != APQ_VERSION or isinstance(version, bool):
        raise InvalidPersistedQuery(f"Unsupported persisted query version: {version!r}")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256.lower()):
        raise InvalidPersistedQuery(
            "extensions.persistedQuery.sha256Hash must be a SHA-256 hex digest"
        )
    return sha256.lower()


def load_manifest(path: Path) -> dict[str, str]:
    """Reads a manifest: either a JSON object of sha256 → document, or Apollo's
    persisted query manifest (`{"format": "apollo-persisted-query-manifest", "version": 1,
    "operations": [{"id", "body", ...}]}`). Every hash must be its document's SHA-256."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"cannot read {TRUSTED_DOCUMENTS_ENV}={path}: {exc}") from exc
    except ValueError as exc:
        raise ManifestError(f"{path} is not valid JSON: {exc}") from exc
    entries: list[tuple[object, object]]
    if isinstance(raw, dict) and raw.get("format") == "apollo-persisted-query-manifest":
        operations = raw.get("operations")
        if raw.get("version") != 1 or not isinstance(operations, list):
            raise ManifestError(f"{path}: only version 1 of Apollo's manifest format is known")
        entries = [
            (op.get("id"), op.get("body")) if isinstance(op, dict) else (None, None)
            for op in operations
        ]
    elif isinstance(raw, dict):
        entries = list(raw.items())
    else:
        raise ManifestError(f"{path}: expected a JSON object of sha256 → document")
    documents: dict[str, str] = {}
    for sha256, document in entries:
        if not isinstance(sha256, str) or not isinstance(document, str):
            raise ManifestError(f"{path}: every entry needs a string hash and a string document")
        if sha256_hex(document) != sha256.lower():
            raise ManifestError(f"{path}: {sha256} is not the SHA-256 of its document")
        documents[sha256.lower()] = document
    if not documents:
        raise ManifestError(f"{path} lists no documents")
    return documents
