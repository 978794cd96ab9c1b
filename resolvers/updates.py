"""Partial updates: an input field left out changes nothing, while null may clear it."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

T = TypeVar("T")


class Unchanged(Enum):
    UNCHANGED = "UNCHANGED"


UNCHANGED = Unchanged.UNCHANGED


def updated(change: T | Unchanged, current: T) -> T:
    """The value after an update: `current` when the field was left out."""
    return current if isinstance(change, Unchanged) else change
