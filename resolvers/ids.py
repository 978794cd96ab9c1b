"""Global ids: opaque, typed, stable. `Contact:42` base64url-encoded, without padding."""

from __future__ import annotations

import base64
import binascii


def encode(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode(global_id: str) -> tuple[str, int] | None:
    """(type name, primary key), or None for anything that is not one of our ids."""
    if len(global_id) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, pk = raw.partition(":")
    if not type_name or not pk.isascii() or not pk.isdigit() or len(pk) > 18:
        return None
    # One spelling per object (no padding, stray characters or leading zeros), so that
    # clients that compare or cache ids by their text see one id per object.
    if encode(type_name, int(pk)) != global_id:
        return None
    return type_name, int(pk)


def decode_as(global_id: str, type_name: str) -> int | None:
    """The primary key of an id of `type_name`, or None."""
    decoded = decode(global_id)
    if decoded is None or decoded[0] != type_name:
        return None
    return decoded[1]
