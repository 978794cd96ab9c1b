"""Attribute definitions, as administrators create and change them.

Definitions created here are CUSTOM and editable by agents: COMMON ones (email, phone,
URL) exist in every organisation, and CRM ones come from the CRM integration. A
definition's shape must stay coherent: only SELECT has options (at least one, distinct
ignoring case), BOOLEAN and SELECT take no pattern. Values already stored are never
invalidated: the type changes only while no contact has a value, and an option in use
cannot be removed. A new pattern applies to values set from then on.

Positions are bounded (MIN_POSITION..MAX_POSITION, which the database checks too), so
that "after every other definition" is always a position: a definition created without
one goes one past the highest, or to MAX_POSITION, where ties sort by creation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from db import attributes as attributes_db
from db.attributes import AttributeDefinition, AttributeKeyTaken
from resolvers import ids
from resolvers.attributes import KEY, MAX_KEY, MAX_PATTERN, pattern_problem
from resolvers.auth import require_admin
from resolvers.context import Context
from resolvers.errors import Problems, Rejected, UserError, UserErrorCode
from resolvers.inputs import checked_name
from resolvers.mutations import write
from resolvers.text import check_text, invalid_characters
from resolvers.updates import UNCHANGED, Unchanged, updated

MAX_LABEL = 100
MAX_DESCRIPTION = 1_000
MAX_OPTIONS = 100
MAX_OPTION = 100
MIN_POSITION, MAX_POSITION = -1_000_000, 1_000_000

# Contact fields of the API and the database: a key must not be mistaken for one (tests
# check that every field of the Contact type and column of contacts is here).
BUILT_IN_FIELDS = frozenset(
    {
        "id",
        "name",
        "handle",
        "network",
        "network_user_id",
        "avatar_url",
        "profile_url",
        "validation",
        "validation_status",
        "validated_at",
        "last_lookup_at",
        "crm_name",
        "crm_record_id",
        "vip",
        "is_vip",
        "vip_group",
        "vip_group_id",
        "attribute",
        "attributes",
        "notes",
        "conversations",
        "organization_id",
        "search_text",
        "created_at",
        "updated_at",
    }
)
_UNSHAPED = ("BOOLEAN", "SELECT")  # types that take no pattern

_ID = ["input", "id"]
_KEY = ["input", "key"]
_LABEL = ["input", "label"]
_TYPE = ["input", "type"]
_OPTIONS = ["input", "options"]
_PATTERN = ["input", "pattern"]
_DESCRIPTION = ["input", "description"]
_POSITION = ["input", "position"]
_ARCHIVED = ["input", "archived"]


@dataclass(frozen=True, slots=True)
class NewDefinition:
    key: str
    label: str
    type: str
    options: list[str]
    pattern: str | None
    description: str | None
    position: int | None  # None: after every other definition


@dataclass(frozen=True, slots=True)
class DefinitionChanges:
    """Fields of updateAttributeDefinition; UNCHANGED where left out. A null (or empty)
    pattern or description removes it. When the type changes, options and a pattern left
    out are dropped if the new type cannot have them (SELECT to TEXT drops the options;
    TEXT to BOOLEAN or SELECT drops the pattern)."""

    label: str | Unchanged = UNCHANGED
    type: str | Unchanged = UNCHANGED
    options: list[str] | Unchanged = UNCHANGED
    pattern: str | Unchanged | None = UNCHANGED
    description: str | Unchanged | None = UNCHANGED
    position: int | Unchanged = UNCHANGED
    archived: bool | Unchanged = UNCHANGED


async def create_definition(
    ctx: Context, new: NewDefinition
) -> AttributeDefinition | list[UserError]:
    """Admins only (raises Forbidden). User errors: INVALID_VALUE (key not an identifier or
    a built-in field, options or pattern not fitting the type, pattern not a regular
    expression or too costly, position out of range), ALREADY_EXISTS (key in use, archived
    definitions included), BLANK and TOO_LONG (label, options, description, pattern)."""
    require_admin(ctx.agent)
    organization_id = ctx.organization_id

    async def work(conn: asyncpg.Connection) -> AttributeDefinition:
        problems = Problems()
        if KEY.fullmatch(new.key) is None:
            problems.add(
                _KEY,
                UserErrorCode.INVALID_VALUE,
                "Key must be a lower-case identifier: a letter, then letters, digits or "
                f"underscores, {MAX_KEY} characters at most",
            )
        elif new.key in BUILT_IN_FIELDS:
            problems.add(
                _KEY, UserErrorCode.INVALID_VALUE, f"Key “{new.key}” is a built-in contact field"
            )
        label = _label(problems, new.label)
        options = _options(problems, new.type, new.options)
        pattern = await _pattern(problems, new.type, new.pattern)
        description = _description(problems, new.description)
        if new.position is not None:
            _check_position(problems, new.position)
        problems.raise_if_any()
        position = new.position
        if position is None:
            following = await attributes_db.next_position(conn, organization_id)
            position = min(following, MAX_POSITION)
        try:
            return await attributes_db.create_definition(
                conn,
                organization_id,
                key=new.key,
                label=label,
                kind="CUSTOM",
                type=new.type,
                options=options,
                pattern=pattern,
                description=description,
                editable=True,
                position=position,
            )
        except AttributeKeyTaken:
            raise Rejected(
                UserError(
                    _KEY,
                    f"An attribute with key “{new.key}” exists already",
                    UserErrorCode.ALREADY_EXISTS,
                )
            ) from None

    return _definitions_changed(ctx, await write(ctx, work))


async def update_definition(
    ctx: Context, definition_gid: str, changes: DefinitionChanges
) -> AttributeDefinition | list[UserError]:
    """Admins only (raises Forbidden). User errors: NOT_FOUND (definition), READ_ONLY
    (archiving or retyping a COMMON definition), INVALID_VALUE (retyping while values exist,
    removing options in use, and create_definition's), BLANK, TOO_LONG."""
    require_admin(ctx.agent)
    organization_id = ctx.organization_id

    async def work(conn: asyncpg.Connection) -> AttributeDefinition:
        problems = Problems()
        definition_id = ids.decode_as(definition_gid, "AttributeDefinition")
        current = (
            None
            if definition_id is None
            else await attributes_db.definition_for_update(conn, organization_id, definition_id)
        )
        if current is None:
            raise Rejected(
                UserError(_ID, "No attribute definition has this id", UserErrorCode.NOT_FOUND)
            )
        label = current.label
        if not isinstance(changes.label, Unchanged):
            label = _label(problems, changes.label)
        type_ = updated(changes.type, current.type)
        retyped = type_ != current.type
        if retyped:
            await _check_retype(conn, problems, current)
        archived = updated(changes.archived, current.archived)
        if archived and not current.archived and current.kind == "COMMON":
            problems.add(
                _ARCHIVED,
                UserErrorCode.READ_ONLY,
                f"{current.label} is a common attribute: it cannot be archived",
            )
        options = current.options
        if retyped or not isinstance(changes.options, Unchanged):
            # Left out, options the new type cannot have go rather than refuse the change.
            kept = current.options if type_ == "SELECT" else []
            options = _options(problems, type_, updated(changes.options, kept))
        if type_ == "SELECT" and not retyped:
            await _check_removed_options(conn, problems, current, options)
        pattern = current.pattern
        if retyped or not isinstance(changes.pattern, Unchanged):
            kept_pattern = None if type_ in _UNSHAPED else current.pattern
            pattern = await _pattern(
                problems, type_, updated(changes.pattern, kept_pattern), known=current.pattern
            )
        description = current.description
        if not isinstance(changes.description, Unchanged):
            description = _description(problems, changes.description)
        if not isinstance(changes.position, Unchanged):
            _check_position(problems, changes.position)
        problems.raise_if_any()
        position = updated(changes.position, current.position)
        after = (label, type_, options, pattern, description, position, archived)
        before = (
            current.label,
            current.type,
            current.options,
            current.pattern,
            current.description,
            current.position,
            current.archived,
        )
        if after == before:
            return current
        found = await attributes_db.update_definition(
            conn,
            organization_id,
            current.id,
            label=label,
            type=type_,
            options=options,
            pattern=pattern,
            description=description,
            position=position,
            archived=archived,
        )
        assert found is not None  # locked above
        return found

    return _definitions_changed(ctx, await write(ctx, work))


def _label(problems: Problems, label: str) -> str:
    return checked_name(problems, _LABEL, label, max_length=MAX_LABEL, label="Label")


def _description(problems: Problems, description: str | None) -> str | None:
    """The description trimmed (its length counted so); None for none or a blank one."""
    if description is None:
        return None
    trimmed = description.strip()
    check_text(
        problems,
        _DESCRIPTION,
        trimmed,
        max_length=MAX_DESCRIPTION,
        required=False,
        label="Description",
    )
    return trimmed or None


def _check_position(problems: Problems, position: int) -> None:
    if not MIN_POSITION <= position <= MAX_POSITION:
        problems.add(
            _POSITION,
            UserErrorCode.INVALID_VALUE,
            f"Position must be between {MIN_POSITION:,} and {MAX_POSITION:,}; got {position:,}",
        )


def _options(problems: Problems, type_: str, options: Sequence[str]) -> list[str]:
    """The options trimmed (their lengths counted so), for a definition of `type_`."""
    if type_ != "SELECT":
        if options:
            problems.add(
                _OPTIONS, UserErrorCode.INVALID_VALUE, "Only SELECT attributes have options"
            )
        return []
    if not options:
        problems.add(
            _OPTIONS, UserErrorCode.INVALID_VALUE, "A SELECT attribute needs at least one option"
        )
    if len(options) > MAX_OPTIONS:
        problems.add(
            _OPTIONS,
            UserErrorCode.TOO_LONG,
            f"A SELECT attribute has at most {MAX_OPTIONS} options; got {len(options)}",
        )
        return []
    clean: list[str] = []
    seen: set[str] = set()
    for index, given in enumerate(options):
        path = [*_OPTIONS, str(index)]
        option = given.strip()
        if not check_text(problems, path, option, max_length=MAX_OPTION, label="Option"):
            continue
        # Values match options ignoring case, so two options must differ in more than case.
        if option.casefold() in seen:
            problems.add(
                path,
                UserErrorCode.INVALID_VALUE,
                f"Option “{option}” is listed twice (options are compared ignoring case)",
            )
        seen.add(option.casefold())
        clean.append(option)
    return clean


async def _pattern(
    problems: Problems, type_: str, pattern: str | None, *, known: str | None = None
) -> str | None:
    """The pattern; None for none or an empty one. The `known` pattern, checked when it
    was set, is not compiled again."""
    if not pattern:
        return None
    reason = invalid_characters(pattern)
    if reason is not None:
        problems.add(_PATTERN, UserErrorCode.INVALID_VALUE, f"Pattern {reason}")
    elif type_ in _UNSHAPED:
        problems.add(_PATTERN, UserErrorCode.INVALID_VALUE, f"A {type_} attribute takes no pattern")
    elif len(pattern) > MAX_PATTERN:
        problems.add(
            _PATTERN,
            UserErrorCode.TOO_LONG,
            f"Pattern is at most {MAX_PATTERN} characters; this one has {len(pattern):,}",
        )
    elif pattern != known:
        problem = await pattern_problem(pattern)
        if problem is not None:
            problems.add(_PATTERN, UserErrorCode.INVALID_VALUE, f"Pattern {problem}")
    return pattern


async def _check_retype(
    conn: asyncpg.Connection, problems: Problems, current: AttributeDefinition
) -> None:
    if current.kind == "COMMON":
        problems.add(
            _TYPE,
            UserErrorCode.READ_ONLY,
            f"{current.label} is a common attribute: its type cannot change",
        )
        return
    count = await attributes_db.count_values_of_definition(
        conn, current.organization_id, current.id
    )
    if count:
        contacts = "1 contact has" if count == 1 else f"{count:,} contacts have"
        problems.add(
            _TYPE,
            UserErrorCode.INVALID_VALUE,
            f"{contacts} a value for {current.label}: its type can change only while none has",
        )


async def _check_removed_options(
    conn: asyncpg.Connection,
    problems: Problems,
    current: AttributeDefinition,
    options: Sequence[str],
) -> None:
    removed = [option for option in current.options if option not in options]
    if not removed:
        return
    in_use = await attributes_db.values_in_use(conn, current.organization_id, current.id, removed)
    if in_use:
        problems.add(
            _OPTIONS,
            UserErrorCode.INVALID_VALUE,
            "Options that contacts have cannot be removed: " + ", ".join(in_use),
        )


def _definitions_changed(
    ctx: Context, result: AttributeDefinition | list[UserError]
) -> AttributeDefinition | list[UserError]:
    if isinstance(result, AttributeDefinition):
        ctx.loaders.attribute_definitions_by_organization.clear(ctx.organization_id)
    return result
