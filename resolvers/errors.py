"""Error codes. Expected failures of a mutation are UserErrors in its payload; the
exceptions below become top-level GraphQL errors with `extensions.code`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from graphql import GraphQLError


class UserErrorCode(Enum):
    NOT_FOUND = "NOT_FOUND"
    TOO_LONG = "TOO_LONG"
    BLANK = "BLANK"
    INVALID_VALUE = "INVALID_VALUE"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    READ_ONLY = "READ_ONLY"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FORBIDDEN = "FORBIDDEN"


@dataclass(frozen=True, slots=True)
class UserError:
    field: list[str]
    message: str
    code: UserErrorCode


class Rejected(Exception):
    """Raised inside a mutation to roll back its savepoint and answer with user errors."""

    def __init__(self, *errors: UserError) -> None:
        super().__init__(errors[0].message if errors else "rejected")
        self.errors = list(errors)


class ApiError(GraphQLError):
    """A top-level error with a code clients can branch on."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class BadUserInput(ApiError):
    code = "BAD_USER_INPUT"


class QueryTooComplex(ApiError):
    code = "QUERY_TOO_COMPLEX"


class RateLimited(ApiError):
    code = "RATE_LIMITED"


@dataclass(slots=True)
class Problems:
    """Collects user errors while validating an input."""

    errors: list[UserError] = field(default_factory=list)

    def add(self, path: list[str], code: UserErrorCode, message: str) -> None:
        self.errors.append(UserError(path, message, code))

    def raise_if_any(self) -> None:
        if self.errors:
            raise Rejected(*self.errors)
