"""Struct-of-arrays track state: one row per track, so a frame's work is a few array operations."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TypeVar

import numpy as np

T = TypeVar("T", bound="TrackTable")


@dataclass
class TrackTable:
    """Base class; subclasses declare array fields that all have one row per track."""

    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))

    def select(self: T, rows: np.ndarray) -> T:
        """The tracks at ``rows`` (index array or boolean mask), as a new table."""
        return type(self)(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def concat(self: T, other: T) -> T:
        """This table's rows followed by ``other``'s."""
        return type(self)(
            **{f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)]) for f in fields(self)}
        )
