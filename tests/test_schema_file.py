"""The committed SDL is the code's schema, and the schema documents itself."""

from __future__ import annotations

import difflib

from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
)

import server
from schema import schema

REGENERATE = ".venv/bin/python server.py export-schema"


def test_schema_graphql_is_the_schema_of_the_code() -> None:
    committed = server.SCHEMA_FILE.read_text(encoding="utf-8")
    # what `server.py export-schema` writes
    current = schema.as_str() + "\n"

    if committed != current:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                current.splitlines(keepends=True),
                "schema.graphql (committed)",
                "schema.as_str() (code)",
                n=1,
            )
        )
        raise AssertionError(
            f"schema.graphql is out of date; regenerate it with `{REGENERATE}`\n{diff}"
        )


def test_every_type_field_argument_and_input_field_has_a_description() -> None:
    missing: list[str] = []
    # Built-in scalars and introspection types are GraphQL's own.
    for name, kind in schema._schema.type_map.items():
        if name.startswith("__") or (
            isinstance(kind, GraphQLScalarType)
            and name in ("String", "Int", "Float", "Boolean", "ID")
        ):
            continue
        if not kind.description:
            missing.append(name)
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in kind.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}({arg_name}:)"
                    for arg_name, arg in field.args.items()
                    if not arg.description
                ]
        elif isinstance(kind, GraphQLInputObjectType):
            missing += [
                f"{name}.{field_name}"
                for field_name, field in kind.fields.items()
                if not field.description
            ]

    assert missing == [], f"no description: {', '.join(missing)}"
