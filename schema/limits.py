"""What one GraphQL document may ask for, checked once it is parsed and before it is
validated or executed: its length, tokens, fields, depth, aliases and cost (see
schema/measure.py for how the last four are counted).

An exceeded limit is a top-level QUERY_TOO_COMPLEX error whose `extensions.limit` names
the limit and `extensions.maximum` gives its value; nothing runs. The cost of an
operation that was measured is reported in the response's `extensions.cost`, whether it
ran or not. The values, and why they are what they are, are in the README ("Limits and
security").
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    parse,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from resolvers.errors import QueryTooComplex
from schema.measure import Measure, MeasureCache

MAX_DOCUMENT_LENGTH = 32_768  # code points of the query text
MAX_TOKENS = 1_000  # lexical tokens, and separately comments
# graphql-core's validation compares the fields of a selection set pairwise (and
# fragments pairwise): it is quadratic in what a document repeats, whatever its cost.
MAX_FIELDS = 150  # field selections written in the document, each fragment once
MAX_DEPTH = 10  # nested fields, introspection excepted
MAX_ALIASES = 20
MAX_COST = 2_500  # objects the lists of an operation may return

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"

# graphql-core's own words when the parser stops at a limit it was given.
_PARSER_LIMITS = (
    f"Document contains more than {MAX_TOKENS} tokens. Parsing aborted.",
    f"Document contains more than {MAX_TOKENS} comments. Parsing aborted.",
)


def parse_limited(query: str) -> DocumentNode:
    """The document of `query`. Raises QueryTooComplex past the length or token limits,
    and graphql-core's GraphQLSyntaxError (coded GRAPHQL_PARSE_FAILED) otherwise."""
    if len(query) > MAX_DOCUMENT_LENGTH:
        raise QueryTooComplex(
            f"The query is {len(query)} characters long; the limit is {MAX_DOCUMENT_LENGTH}",
            limit="length",
            maximum=MAX_DOCUMENT_LENGTH,
            actual=len(query),
        )
    try:
        return parse(query, max_lexical_tokens=MAX_TOKENS, max_comments=MAX_TOKENS)
    except GraphQLSyntaxError as error:
        if error.description in _PARSER_LIMITS:
            raise QueryTooComplex(
                f"The query has more than {MAX_TOKENS} tokens (or comments)",
                limit="tokens",
                maximum=MAX_TOKENS,
            ) from None
        error.extensions = {**(error.extensions or {}), "code": PARSE_FAILED}
        raise


def parse_document(query: str) -> DocumentNode | GraphQLError:
    """The document of `query`, or why there is none (as parse_limited raises it).
    Documents of ordinary size are cached: clients repeat theirs, and one parsed document
    object per text also lets validation be cached (see ValidatedDocuments)."""
    if len(query) > _CACHED_LENGTH:
        return _parse(query)
    return _parse_cached(query)


def _parse(query: str) -> DocumentNode | GraphQLError:
    try:
        return parse_limited(query)
    except GraphQLError as error:
        return error


# The contact panel's document is about 1,500 characters; the cache holds at most
# 256 × 16 K characters of documents, whatever clients send.
_CACHED_LENGTH = 16_384
_parse_cached = lru_cache(maxsize=256)(_parse)


class ValidatedDocuments:
    """Strawberry's validation of a document, once per schema, document and rules: a
    client repeats its queries, and validating one costs more than executing it.

    Documents are keyed by identity, which the parse cache makes one object per text:
    graphql-core's nodes are frozen dataclasses whose hash walks the whole tree at every
    lookup (about 30 µs for the contact panel's document). An entry keeps its schema and
    document alive so that their identities are not reused."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._entries: OrderedDict[
            tuple[int, int, tuple[type[ASTValidationRule], ...]],
            tuple[GraphQLSchema, DocumentNode, tuple[GraphQLError, ...]],
        ] = OrderedDict()

    def errors(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> tuple[GraphQLError, ...]:
        key = (id(schema), id(document), rules)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is schema and entry[1] is document:
            self._entries.move_to_end(key)
            return entry[2]
        found = tuple(validate_document(schema, document, rules))
        self._entries[key] = (schema, document, found)
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return found


_validated = ValidatedDocuments()


def violations(found: Measure) -> list[GraphQLError]:
    """A QUERY_TOO_COMPLEX error for each limit `found` exceeds."""
    errors: list[GraphQLError] = []
    if found.fields > MAX_FIELDS:
        errors.append(
            QueryTooComplex(
                f"The query selects {found.fields} fields; the limit is {MAX_FIELDS}",
                limit="fields",
                maximum=MAX_FIELDS,
                actual=found.fields,
            )
        )
    if found.depth > MAX_DEPTH:
        errors.append(
            QueryTooComplex(
                f"The query is {found.depth} fields deep; the limit is {MAX_DEPTH}",
                limit="depth",
                maximum=MAX_DEPTH,
                actual=found.depth,
            )
        )
    if found.aliases > MAX_ALIASES:
        errors.append(
            QueryTooComplex(
                f"The query has {found.aliases} aliases; the limit is {MAX_ALIASES}",
                limit="aliases",
                maximum=MAX_ALIASES,
                actual=found.aliases,
            )
        )
    if found.cost > MAX_COST:
        errors.append(
            QueryTooComplex(
                f"The query may return {found.cost} objects; the limit is {MAX_COST}. "
                "Ask for smaller pages, or fewer nested lists.",
                limit="cost",
                maximum=MAX_COST,
                actual=found.cost,
            )
        )
    return errors


# Documents repeat; most of their variables do not change what they measure.
_measures = MeasureCache()


class QueryLimits(SchemaExtension):
    """Parses with the length and token limits, refuses documents past the depth, alias
    and cost limits before validation runs (graphql-core's validation is itself costly on
    hostile documents), reports the cost, and gives graphql-core's own errors a code."""

    def __init__(self, *, execution_context: Any = None) -> None:
        super().__init__(execution_context=execution_context)
        self._cost: int | None = None

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is None and ctx.query:
            document = parse_document(ctx.query)
            if isinstance(document, GraphQLError):
                raise document
            ctx.graphql_document = document
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        assert ctx.graphql_document is not None  # validation follows a successful parse
        found = _measures.measure(
            ctx.schema._schema, ctx.graphql_document, ctx.operation_name, ctx.variables
        )
        self._cost = found.cost
        # Strawberry skips its own validation when the errors are already known.
        ctx.pre_execution_errors = violations(found) or list(
            _validated.errors(ctx.schema._schema, ctx.graphql_document, tuple(ctx.validation_rules))
        )
        yield
        _code(ctx.pre_execution_errors or [], VALIDATION_FAILED)

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            # Errors without a path were raised before any field ran: the variables or the
            # operation name do not fit the document.
            _code([e for e in result.errors if e.path is None], BAD_USER_INPUT)

    def get_results(self) -> dict[str, Any]:
        if self._cost is None:
            return {}
        return {"cost": {"requested": self._cost, "limit": MAX_COST}}


def _code(errors: list[GraphQLError], code: str) -> None:
    for error in errors:
        # graphql-core's own errors; an exception of a resolver is masked instead.
        ours = error.original_error is None or isinstance(error.original_error, GraphQLError)
        if ours and not (error.extensions or {}).get("code"):
            error.extensions = {**(error.extensions or {}), "code": code}
