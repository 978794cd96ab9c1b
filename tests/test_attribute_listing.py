"""Attribute.all_of: a contact's attributes from the definitions and its values."""

from __future__ import annotations

from datetime import UTC, datetime

from db.attributes import NO_TEXTS, AttributeDefinition, AttributeTexts, AttributeValue
from schema.attributes import Attribute, UnsetListing

MOMENT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def definition(id: int, key: str, kind: str = "COMMON") -> AttributeDefinition:
    return AttributeDefinition(
        organization_id=1,
        id=id,
        key=key,
        label=key.title(),
        kind=kind,
        type="TEXT",
        options=[],
        pattern=None,
        description=None,
        editable=True,
        position=id,
        archived=False,
        created_at=MOMENT,
        updated_at=MOMENT,
    )


def value(contact_id: int, definition_id: int, text: str | None) -> AttributeValue:
    return AttributeValue(1, contact_id, definition_id, text, MOMENT, 7)


DEFINITIONS = [definition(1, "email"), definition(2, "phone"), definition(3, "tier", "CRM")]


def test_each_definition_in_order_with_the_contacts_value_or_none() -> None:
    listings: dict[int, UnsetListing] = {}
    # In no particular order, with a value of a definition not listed (archived, say).
    values = [value(10, 3, "gold"), value(10, 9, "gone"), value(10, 1, "a@example.com")]

    attributes = Attribute.all_of(DEFINITIONS, values, listings)

    assert [(a.key, a.value, a.updated_by_id) for a in attributes] == [
        ("email", "a@example.com", 7),
        ("phone", None, None),
        ("tier", "gold", 7),
    ]
    assert [a.kind.name for a in attributes] == ["COMMON", "COMMON", "CRM"]
    assert attributes[0].updated_at == MOMENT
    assert attributes[1].updated_at is None


def test_contacts_share_the_attributes_they_have_no_value_for() -> None:
    listings: dict[int, UnsetListing] = {}

    first = Attribute.all_of(DEFINITIONS, [value(10, 1, "a@example.com")], listings)
    second = Attribute.all_of(DEFINITIONS, [value(11, 2, "+44 20 7946 0000")], listings)
    third = Attribute.all_of(DEFINITIONS, [], listings)

    assert first[2] is second[2] is third[2]  # tier: nobody's
    assert first[1] is third[1]
    assert second[1] is not first[1]
    assert (first[0].value, second[0].value, third[0].value) == ("a@example.com", None, None)
    # A value is set on a copy: the shared attribute stays without one.
    assert third[0].value is None
    assert third[1].value is None


def test_another_list_of_definitions_gets_attributes_of_its_own() -> None:
    listings: dict[int, UnsetListing] = {}
    crm_only = [DEFINITIONS[2]]
    # As after a mutation that changed a definition: the loader gives a new list.
    relabelled = [DEFINITIONS[0], DEFINITIONS[1], definition(3, "level", "CRM")]

    every = Attribute.all_of(DEFINITIONS, [value(10, 3, "gold")], listings)
    crm = Attribute.all_of(crm_only, [value(10, 1, "a@example.com")], listings)
    after = Attribute.all_of(relabelled, [], listings)

    assert [a.key for a in crm] == ["tier"]
    assert crm[0].value is None
    assert [a.key for a in after] == ["email", "phone", "level"]
    assert every[0] is not after[0]


def test_values_without_their_history_list_as_values_with_none() -> None:
    listings: dict[int, UnsetListing] = {}
    texts = AttributeTexts([3, 9, 1, 2], ["gold", "gone", "a@example.com", None])

    attributes = Attribute.all_of(DEFINITIONS, texts, listings)
    unset = Attribute.all_of(DEFINITIONS, NO_TEXTS, listings)

    assert [(a.key, a.value, a.updated_at, a.updated_by_id) for a in attributes] == [
        ("email", "a@example.com", None, None),
        ("phone", None, None, None),  # cleared: as an unset value
        ("tier", "gold", None, None),
    ]
    assert [a.value for a in unset] == [None, None, None]
    # Built on the same shared attributes as values with their history.
    full = Attribute.all_of(DEFINITIONS, [value(10, 2, "+44 20 7946 0000")], listings)
    assert unset[0] is full[0]
    assert full[1].updated_by_id == 7
    assert unset[1].updated_by_id is None


def test_contacts_with_the_same_value_without_history_share_its_attribute() -> None:
    listings: dict[int, UnsetListing] = {}

    first = Attribute.all_of(
        DEFINITIONS, AttributeTexts([3, 1], ["gold", "a@example.com"]), listings
    )
    second = Attribute.all_of(
        DEFINITIONS, AttributeTexts([1, 3], ["b@example.com", "gold"]), listings
    )
    # With the history, equal values are attributes of their own.
    full = Attribute.all_of(DEFINITIONS, [value(12, 3, "gold")], listings)
    other = Attribute.all_of(DEFINITIONS, [value(13, 3, "gold")], listings)

    assert first[2] is second[2]  # tier: gold
    assert (first[2].key, first[2].value) == ("tier", "gold")
    assert first[0] is not second[0]
    assert (first[0].value, second[0].value) == ("a@example.com", "b@example.com")
    assert full[2] is not other[2]
    assert full[2].value == other[2].value == "gold"
    assert full[2] is not first[2]
    assert full[2].updated_by_id == 7
    # The unset attribute they were made from is left as it was.
    assert Attribute.all_of(DEFINITIONS, NO_TEXTS, listings)[2].value is None
