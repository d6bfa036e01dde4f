"""Value checks used by the config schema.

Each check knows what it expects, so a failure can be reported as
``KEY: expected <what>, got <value>`` without the caller writing messages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    """A predicate on a config value plus a phrase saying what it accepts."""

    expected: str
    test: Callable[[Any], bool]

    def __call__(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except (TypeError, ValueError, re.error):  # re.error: a zone path that is not a valid regex
            return False


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and not math.isnan(v)


def is_str() -> Check:
    return Check("a string", lambda v: isinstance(v, str))


def is_bool() -> Check:
    return Check("true or false", lambda v: isinstance(v, bool))


def int_range(lo: int | None = None, hi: int | None = None) -> Check:
    if lo == 1 and hi is None:
        phrase = "a positive int"
    elif lo == 0 and hi is None:
        phrase = "a non-negative int"
    else:
        phrase = f"an int in [{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
    return Check(
        phrase,
        lambda v: _is_int(v) and (lo is None or v >= lo) and (hi is None or v <= hi),
    )


def positive_int() -> Check:
    return int_range(1)


def non_negative_int() -> Check:
    return int_range(0)


def float_range(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False) -> Check:
    left = "(" if lo_open else "["
    kind = "a number" if hi is not None else "a finite number"
    phrase = f"{kind} in {left}{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"

    def test(v: Any) -> bool:
        if not _is_number(v) or not math.isfinite(v):  # .inf is no plausible number of seconds or CPUs
            return False
        if lo is not None and (v <= lo if lo_open else v < lo):
            return False
        return hi is None or v <= hi

    return Check(phrase, test)


def one_of(*choices: str) -> Check:
    return Check("one of " + ", ".join(repr(c) for c in choices), lambda v: v in choices)


def list_of(item: Check, length: int | None = None) -> Check:
    size = f"{length} " if length is not None else ""
    return Check(
        f"a list of {size}items, each {item.expected}",
        lambda v: (
            isinstance(v, (list, tuple)) and (length is None or len(v) == length) and all(item(x) for x in v)
        ),
    )


def attribute_models() -> Check:
    """``[{name: model_path}, ...]``: one single-key mapping per attribute model."""
    return Check(
        "a list of {name: model} mappings with one key each",
        lambda v: (
            isinstance(v, (list, tuple))
            and all(
                isinstance(d, dict)
                and len(d) == 1
                and all(isinstance(k, str) and isinstance(x, str) for k, x in d.items())
                for d in v
            )
        ),
    )


def _is_zone_path(item: Any) -> bool:
    if isinstance(item, str):
        re.compile(item)
        return True
    return isinstance(item, (list, tuple)) and len(item) > 0 and all(_is_int(z) and z >= 0 for z in item)


def zone_paths() -> Check:
    """Either regular expressions over comma-joined zone ids, or explicit zone-id lists."""
    return Check(
        "a list whose items are regular expressions (e.g. '1,.*,2') or zone-id lists (e.g. [1, 2])",
        lambda v: isinstance(v, (list, tuple)) and all(_is_zone_path(x) for x in v),
    )


def camera_list() -> Check:
    return Check(
        "a list of camera mappings (each with at least a 'video' key)",
        lambda v: isinstance(v, (list, tuple)) and all(isinstance(c, dict) for c in v),
    )
