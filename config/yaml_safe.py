"""The one YAML loader of the project: safe tags only, bounded in size, depth and expansion.

A YAML file of a kilobyte can describe gigabytes: nested anchors and aliases (the "billion
laughs" alias bomb) expand exponentially when constructed, and ``[[[[...`` recurses once per
bracket. Configs never need either, so this loader refuses anchors and aliases outright (the
error names the file and line) and nesting deeper than ``MAX_DEPTH``, *while composing*,
before anything is expanded or validated. Text longer than ``MAX_BYTES`` is refused unread.

Also: ``5e-1`` and ``1e3`` are numbers as in YAML 1.2 (PyYAML's 1.1 wants ``5.0e-1``), and a
key given twice in one mapping is an error (PyYAML silently keeps the last one).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1 << 20  # 1 MiB: a config of a hundred cameras is ~20 KB
MAX_DEPTH = 64  # mappings and lists inside each other; configs use at most 4


class YamlLimitError(yaml.YAMLError):
    """YAML that uses a feature refused here (anchors, aliases) or exceeds a limit."""

    def __init__(self, problem: str, mark: yaml.Mark | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without anchors/aliases, with a nesting limit and duplicate-key errors."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise YamlLimitError(
                "anchors and aliases (&name, *name) are not accepted: write the values out in full",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[str, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = key_node.value
                if key in first_line:
                    raise yaml.constructor.ConstructorError(
                        problem=f"'{key}' given twice (first at line {first_line[key]})",
                        problem_mark=key_node.start_mark,
                    )
                first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


BoundedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str) -> Any:
    """One YAML document through ``BoundedLoader``; raises ``yaml.YAMLError`` (``YamlLimitError``)."""
    if len(text) > MAX_BYTES:
        raise YamlLimitError(f"{len(text)} characters, more than the {MAX_BYTES} accepted")
    return yaml.load(text, Loader=BoundedLoader)


def yaml_problem(path: str | Path, err: yaml.YAMLError) -> str:
    """``<file>:<line>: not valid YAML (<why>)`` for a parse error of ``path``."""
    mark = getattr(err, "problem_mark", None)
    where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
    return f"{where}: not valid YAML ({getattr(err, 'problem', None) or err})"


def read_yaml_file(path: str | Path) -> Any:
    """The YAML document in ``path``; ``ValueError`` naming the file for any problem (size checked unread)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ValueError(f"{path}: {size} bytes, more than the {MAX_BYTES} accepted for a YAML file")
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise ValueError(f"{path}: cannot read ({err.strerror})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text; save the file as UTF-8") from None
    try:
        return parse_yaml(text)
    except yaml.YAMLError as err:
        raise ValueError(yaml_problem(path, err)) from None
