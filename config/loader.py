"""Read a YAML config, merge ``KEY VALUE`` overrides, resolve paths, validate once, freeze.

Unlike ``CfgNode.merge_from_file`` (which stops at the first unknown key), this
walks the whole file against the schema so that every problem is reported at once.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from yacs.config import CfgNode

from config.defaults import CAMERA_ONLY_KEYS, SCHEMA, SCHEMA_BY_NAME, Key, get_cfg_defaults
from config.detector_defaults import apply_detector_defaults, flat_keys
from config.reid_defaults import apply_reid_defaults
from config.verify_config import Mode, validate
from config.yaml_safe import MAX_BYTES, parse_yaml, yaml_problem

# Every proper prefix of a key: "MOT", "MOT.BYTETRACK", ...
SECTIONS = {".".join(k.name.split(".")[:i]) for k in SCHEMA for i in range(1, k.name.count(".") + 1)}


class ConfigError(ValueError):
    """Every problem found in a configuration, each naming its key path."""

    def __init__(self, problems: Sequence[str], source: str | Path | None = None) -> None:
        self.problems = list(problems)
        self.source = str(source) if source is not None else None
        where = f" in {self.source}" if self.source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} configuration problem(s){where}:\n{lines}")


def load_config(
    path: str | Path | None,
    overrides: Sequence[str] = (),
    mode: Mode = "any",
) -> CfgNode:
    """Build the frozen, validated config for one run.

    Args:
        path: YAML file, or None for defaults plus overrides only.
        overrides: flat ``["MOT.TRACKER", "deepsort", ...]`` pairs; values are parsed as YAML.
        mode: which runner will use the config; decides which keys are required and
            which files must exist (see ``config.verify_config.validate``).

    Raises:
        ConfigError: listing every problem, each with its key path.
    """
    problems: list[str] = []
    cfg = get_cfg_defaults()
    explicit: set[str] = set()
    if path is not None:
        path = Path(path)
        raw = read_yaml(path)
        _merge(cfg, raw, path.resolve().parent, problems)
        explicit |= flat_keys(raw)
    parsed = parse_overrides(overrides)
    _merge(cfg, parsed, Path.cwd(), problems)
    explicit |= flat_keys(parsed)
    # keys the user left unset follow the detector (config.detector_defaults)
    apply_detector_defaults(cfg, explicit)
    apply_reid_defaults(cfg, explicit)  # a downloaded vehicle ReID model wins (config.reid_defaults)
    # With unknown or misplaced keys, still check every value, but not files (they would repeat the noise).
    problems.extend(validate(cfg, mode if not problems else "any"))
    if problems:
        raise ConfigError(problems, path)
    cfg.freeze()
    return cfg


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError([f"config file not found: {path}"])
    if not path.is_file():
        raise ConfigError([f"{path}: not a file (expected a YAML config file)"])
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError([f"{path}: larger than {MAX_BYTES} bytes; not a config file"])
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError([f"{path}: cannot read the config file ({err.strerror})"]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(
            [f"{path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x}); save the file as UTF-8"]
        ) from None
    try:
        raw = parse_yaml(text)
    except yaml.YAMLError as err:
        raise ConfigError([yaml_problem(path, err)]) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(
            [f"{path}: expected a mapping of config keys at the top level, got {type(raw).__name__}"]
        )
    return raw


def parse_overrides(opts: Sequence[str]) -> dict[str, Any]:
    """``["A.B", "1", "C", "x"]`` -> nested ``{"A": {"B": 1}, "C": "x"}``; values parsed as YAML."""
    if len(opts) % 2:
        raise ConfigError([f"overrides come in KEY VALUE pairs; '{opts[-1]}' has no value"])
    problems: list[str] = []
    nested: dict[str, Any] = {}
    for key, text in zip(opts[::2], opts[1::2], strict=True):
        try:
            value = parse_yaml(text) if text.strip() else ""
        except yaml.YAMLError as err:
            reason = getattr(err, "problem", None) or str(err).split("\n", 1)[0]
            problems.append(f"{key}: the override value {text!r} is not valid YAML ({reason})")
            continue
        if problem := _insert(nested, key, "" if value is None else value):
            problems.append(problem)
    if problems:
        raise ConfigError(problems)
    return nested


def _insert(nested: dict[str, Any], key: str, value: Any) -> str | None:
    """Put ``value`` at dotted ``key``; a problem when the key clashes with an earlier override."""
    *parents, leaf = key.split(".")
    node = nested
    for i, part in enumerate(parents):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return f"{key}: '{'.'.join(parents[: i + 1])}' was already given a value in the overrides"
    if isinstance(node.get(leaf), dict):
        return f"{key}: given a value, but other overrides set keys inside it"
    node[leaf] = value
    return None


def _merge(cfg: CfgNode, raw: dict[str, Any], base_dir: Path, problems: list[str], prefix: str = "") -> None:
    for name, value in raw.items():
        full = f"{prefix}{name}"
        key = SCHEMA_BY_NAME.get(full)
        if key is not None:
            _set(cfg, key, _resolve(key, value, base_dir, full, problems))
        elif full in SECTIONS:
            if isinstance(value, dict):
                _merge(cfg, value, base_dir, problems, prefix=f"{full}.")
            else:
                problems.append(f"{full}: expected a mapping of keys, got {value!r}")
        else:
            problems.append(f"{full}: unknown key{_suggest(full, list(SCHEMA_BY_NAME) + sorted(SECTIONS))}")


def _suggest(name: str, candidates: Sequence[str]) -> str:
    folded = {c.upper(): c for c in candidates}
    if name.upper() in folded:
        return f"; did you mean '{folded[name.upper()]}'?"
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _set(cfg: CfgNode, key: Key, value: Any) -> None:
    *parents, leaf = key.name.split(".")
    node = cfg
    for part in parents:
        node = node[part]
    node[leaf] = value


def _resolve(key: Key, value: Any, base_dir: Path, full: str, problems: list[str]) -> Any:
    """Coerce ints to floats where floats are expected and make relative paths absolute."""
    value = _coerce_numbers(key.default, value)
    if full == "EXPRESS.CAMERAS" and isinstance(value, list):
        return [_resolve_camera(i, cam, base_dir, problems) for i, cam in enumerate(value)]
    if key.path is None:
        return value
    if isinstance(value, list):
        return [resolve_path(v, key.path, base_dir) if isinstance(v, str) else v for v in value]
    return resolve_path(value, key.path, base_dir) if isinstance(value, str) else value


def _resolve_camera(index: int, cam: Any, base_dir: Path, problems: list[str]) -> Any:
    if not isinstance(cam, dict):
        return cam
    resolved: dict[str, Any] = {}
    for name, value in cam.items():
        lower = str(name).lower()
        key = SCHEMA_BY_NAME.get(f"MOT.{str(name).upper()}")
        if lower in CAMERA_ONLY_KEYS:
            resolved[lower] = value
        elif key is None:
            candidates = list(CAMERA_ONLY_KEYS) + [k.name[4:].lower() for k in SCHEMA if k.section == "MOT"]
            problems.append(
                f"EXPRESS.CAMERAS[{index}].{name}: unknown camera key{_suggest(lower, candidates)}"
            )
        else:
            resolved[lower] = _resolve(key, value, base_dir, key.name, problems)
    return resolved


def _coerce_numbers(default: Any, value: Any) -> Any:
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, list) and default and isinstance(value, list):
        return [_coerce_numbers(default[0], v) for v in value]
    return value


def resolve_path(value: str, kind: str, base_dir: Path) -> str:
    """Make ``value`` absolute according to its path kind (see ``config.defaults``)."""
    if not value:
        return value
    if kind == "video" and "://" in value:
        return value
    expanded = Path(os.path.expandvars(value)).expanduser()
    if expanded.is_absolute():
        return str(expanded)
    if kind == "output":
        return os.path.normpath(Path.cwd() / expanded)
    candidate = Path(os.path.normpath(base_dir / expanded))
    if kind == "model" and not candidate.exists():
        return value  # a model name, looked up by models.registry
    return str(candidate)
