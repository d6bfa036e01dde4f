"""Print and save metric summaries: a fixed-width table on the log, CSV and JSON files."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from config.paths import atomic_write_text
from evaluate.metrics import INTEGER_FIELDS, SUMMARY_FIELDS, Summary


def summary_table(results: Mapping[str, Summary], fields: Sequence[str] = SUMMARY_FIELDS) -> pd.DataFrame:
    """One row per sequence (``COMBINED`` last), one column per metric."""
    return pd.DataFrame.from_dict(dict(results), orient="index")[list(fields)]


def format_table(results: Mapping[str, Summary], fields: Sequence[str] = SUMMARY_FIELDS) -> str:
    """Ratios as percentages with one decimal, counts as integers."""
    table = summary_table(results, fields)
    shown = pd.DataFrame(index=table.index)
    for name in fields:
        if name in INTEGER_FIELDS:
            shown[name] = table[name].astype(int).astype(str)
        else:
            shown[name] = (100 * table[name]).map("{:.1f}".format)
    return shown.to_string()


def save_report(results: Mapping[str, Summary], directory: Path, stem: str = "eval") -> list[Path]:
    """``<stem>.csv`` and ``<stem>.json`` with every metric at full precision."""
    paths = [directory / f"{stem}.csv", directory / f"{stem}.json"]
    atomic_write_text(paths[0], summary_table(results).to_csv(index_label="sequence"))
    atomic_write_text(paths[1], json.dumps(dict(results), indent=2) + "\n")
    return paths
