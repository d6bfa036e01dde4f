"""The configuration reference (every key, default and meaning) as a Markdown table.

python tools/config_reference.py            # print it
python tools/config_reference.py --update   # rewrite the table in docs/configuration.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from config.defaults import SCHEMA
from config.paths import atomic_write_text

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def reference_table() -> str:
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key in SCHEMA:
        default = f'"{key.default}"' if isinstance(key.default, str) else json.dumps(key.default)
        rows.append(f"| `{key.name}` | `{default}` | {key.doc} |")
    return "\n".join(rows)


def with_table(page: str) -> str:
    """``page`` with the text between the reference markers replaced by the current table."""
    head, rest = page.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{reference_table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite the table in docs/configuration.md")
    args = parser.parse_args(argv)
    if args.update:
        atomic_write_text(REFERENCE, with_table(REFERENCE.read_text(encoding="utf-8")))
    else:
        print(reference_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
