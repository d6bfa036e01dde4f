"""Camera layout files: frame rates, clock offsets, speed scales and transition windows.

Two formats are read; both give the same frozen ``CameraLayout``.

Line format (ours)::

    # cam_from cam_to min_s max_s   -- a vehicle leaving cam_from's view at t is in
    0 1 2.0 10.0                    #    cam_to's view at some moment of [t + min_s, t + max_s]
    1 0 -1.5 4                      # negative min_s: overlapping views
    fps 30 30
    offset 0.0 0.0                  # optional, default 0
    scale 1.0 1.0                   # optional, default 1

Camera tokens are 0-based indices, or camera names when the caller passes the
names in camera order. ``inf``/``-inf`` are accepted as bounds. A line ``c c min max``
(same camera twice) explicitly allows re-entry into that camera after ``min`` seconds
(``min`` must be positive). A line ``handover a b x0 y0 x1 y1`` says where the views of
cameras a and b touch: while a vehicle is seen by both at once, its box in camera a meets that
rectangle (pixels of camera a); two tracklets seen at the same moment elsewhere are two vehicles.

Sectioned format (the original vehicle_mtmc project): a section name alone on a
line (``fps``, ``offset``, ``scales``, ``compatibility``, ``dtmin``, ``dtmax``) followed
by one row (vectors) or one row per camera (matrices); ``compatibility[i][j] != 0``
allows a transition from camera i to camera j.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

VECTOR_KEYWORDS = ("fps", "offset", "scale")
SECTION_NAMES = ("fps", "offset", "scales", "compatibility", "dtmin", "dtmax")
MAX_PROBLEMS = 50  # bad lines reported at once
REENTRY_MIN = 1e-6  # seconds: an implicit re-entry needs the second track to end after the first


class LayoutError(ValueError):
    """A layout file problem; the message names the file and line (``problems``: one per bad line)."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems) or [message]


@dataclass(frozen=True)
class Handover:
    """Line ``handover a b x0 y0 x1 y1``: while a vehicle is in view of both cameras, its box in
    camera ``a`` meets this rectangle (pixels of camera a): where the two views touch."""

    camera: int
    other: int
    box: tuple[float, float, float, float]


@dataclass(frozen=True, eq=False)
class CameraLayout:
    """Per-camera timing and the allowed transitions between cameras.

    Attributes:
        fps: (C,) frames per second of each camera.
        offset: (C,) seconds added to a camera's local time to reach the common clock.
        scale: (C,) playback speed factor (2.0 = video runs twice as fast as real time).
        allowed: (C, C) bool, ``allowed[i, j]``: a vehicle may go from camera i to camera j.
        min_gap, max_gap: (C, C) seconds; it is in j's view at some moment of
            ``[leave_i + min_gap[i, j], leave_i + max_gap[i, j]]``. Meaningless where not allowed.
        route_min: (C, C) derived, ``shortest_routes``: the bound over chains of transitions.
        source: the file it was read from.
    """

    fps: np.ndarray
    offset: np.ndarray
    scale: np.ndarray
    allowed: np.ndarray
    min_gap: np.ndarray
    max_gap: np.ndarray
    source: str = ""
    handover: tuple[Handover, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.fps)
        for name, shape in (
            ("offset", (n,)),
            ("scale", (n,)),
            ("allowed", (n, n)),
            ("min_gap", (n, n)),
            ("max_gap", (n, n)),
        ):
            arr = getattr(self, name)
            if arr.shape != shape:
                raise ValueError(f"CameraLayout.{name}: expected shape {shape}, got {arr.shape}")
        for name in ("fps", "offset", "scale", "allowed", "min_gap", "max_gap"):
            getattr(self, name).setflags(write=False)

    @property
    def n_cams(self) -> int:
        return len(self.fps)

    @cached_property
    def route_min(self) -> np.ndarray:
        """(C, C) shortest route bound; see ``shortest_routes``."""
        routes = shortest_routes(self.allowed, self.min_gap)
        routes.setflags(write=False)
        return routes

    def with_reentry_gap(self, seconds: float) -> CameraLayout:
        """This layout plus an implicit re-entry line ``c c REENTRY_MIN seconds`` per camera without one.

        The occlusion-gap bound: a vehicle hidden for at most ``seconds`` (a truck passing in
        front, a tracker's cut) may come back into the view it left. Cameras that already have
        a re-entry line keep it; ``seconds <= 0`` returns the layout unchanged.
        """
        missing = ~np.diag(self.allowed) if seconds > 0 else np.zeros(self.n_cams, bool)
        if not missing.any():
            return self
        cams = np.flatnonzero(missing)
        allowed, low, high = self.allowed.copy(), self.min_gap.copy(), self.max_gap.copy()
        allowed[cams, cams], low[cams, cams], high[cams, cams] = True, REENTRY_MIN, seconds
        return CameraLayout(self.fps, self.offset, self.scale, allowed, low, high, self.source, self.handover)

    def global_time(self, camera: int | np.ndarray, frame: float | np.ndarray) -> np.ndarray:
        """Seconds on the common clock: ``frame / fps / scale + offset`` of the camera."""
        camera = np.asarray(camera)
        return (
            np.asarray(frame, dtype=np.float64) / self.fps[camera] / self.scale[camera] + self.offset[camera]
        )


def parse_layout(path: str | Path, camera_names: Sequence[str] | None = None) -> CameraLayout:
    """Read either layout format; raises ``LayoutError`` naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is not a camera token
    except OSError as err:
        raise LayoutError(f"{path}: cannot read camera layout ({err.strerror})") from err
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise LayoutError(f"{path}:{line}: not UTF-8 text; a camera layout is plain text") from None
    lines = [(i + 1, line.split("#", 1)[0].strip()) for i, line in enumerate(text.splitlines())]
    lines = [(no, line) for no, line in lines if line]
    if not lines:
        raise LayoutError(f"{path}: the camera layout is empty")
    if any(line in SECTION_NAMES for _, line in lines):
        return _every_bad_line(path, lines, lambda kept: _parse_sectioned(path, kept), SECTION_NAMES)
    return _every_bad_line(path, lines, lambda kept: _parse_lines(path, kept, camera_names), ())


def _every_bad_line(
    path: Path,
    lines: list[tuple[int, str]],
    parse: Callable[[list[tuple[int, str]]], CameraLayout],
    headers: Sequence[str],
) -> CameraLayout:
    """``parse(lines)``, but a file with several bad lines reports all of them, not only the first.

    The parsers stop at the first problem, whose message starts ``file:line:``; that line is
    left out and the rest parsed again. Problems that only follow from left-out lines are not
    reported: those naming no line (e.g. a missing 'fps' line when the 'fps' line was bad), and
    those at a section header (its matrix lost a bad row).
    """
    problems: list[str] = []
    kept = lines
    while len(problems) < MAX_PROBLEMS:
        try:
            layout = parse(kept)
        except LayoutError as err:
            no = _line_number(path, str(err))
            if not problems:
                first = err
            elif no is None or dict(kept).get(no) in headers:
                break
            problems.append(str(err))
            if no is None:
                break
            kept = [(n, line) for n, line in kept if n != no]
            continue
        if not problems:
            return layout
        break
    if len(problems) == 1:
        raise first
    problems.sort(key=lambda problem: _line_number(path, problem) or 0)
    raise LayoutError(
        f"{path}: {len(problems)} problems in the camera layout:\n  " + "\n  ".join(problems), problems
    )


def _line_number(path: Path, message: str) -> int | None:
    """N of a message starting ``path:N: ``, else None."""
    if not message.startswith(f"{path}:"):
        return None
    match = re.match(r"(\d+): ", message.removeprefix(f"{path}:"))
    return int(match.group(1)) if match else None


def _number(token: str, path: Path, line_no: int) -> float:
    try:
        value = float(token)
    except ValueError:
        raise LayoutError(f"{path}:{line_no}: expected a number, got '{token}'") from None
    if math.isnan(value):
        raise LayoutError(f"{path}:{line_no}: NaN is not a valid value")
    return value


def _parse_lines(path: Path, lines: list[tuple[int, str]], names: Sequence[str] | None) -> CameraLayout:
    vectors: dict[str, tuple[int, list[float]]] = {}
    transitions: dict[tuple[int, int], tuple[int, float, float]] = {}
    handovers: list[Handover] = []
    for no, line in lines:
        tokens = line.split()
        head = tokens[0].lower()
        if head in VECTOR_KEYWORDS or head == "scales":
            head = "scale" if head == "scales" else head
            if head in vectors:
                raise LayoutError(f"{path}:{no}: '{head}' given twice (first at line {vectors[head][0]})")
            if len(tokens) < 2:
                raise LayoutError(f"{path}:{no}: '{head}' needs one value per camera")
            vectors[head] = (no, [_number(t, path, no) for t in tokens[1:]])
            continue
        if head == "handover":
            handovers.append(_handover(tokens, names, path, no))
            continue
        if len(tokens) != 4:
            expected = "'cam_from cam_to min_s max_s' or 'fps|offset|scale v1 v2 ...'"
            raise LayoutError(f"{path}:{no}: expected {expected}, got '{line}'")
        src, dst = (_camera_index(t, names, path, no) for t in tokens[:2])
        lo, hi = (_number(t, path, no) for t in tokens[2:])
        if lo > hi:
            raise LayoutError(f"{path}:{no}: min_s {lo:g} is larger than max_s {hi:g}")
        if src == dst and lo <= 0:
            raise LayoutError(
                f"{path}:{no}: re-entry into camera {src} needs min_s > 0 (one camera never sees "
                f"a vehicle twice at once), got {lo:g}"
            )
        if (src, dst) in transitions:
            raise LayoutError(
                f"{path}:{no}: transition {src} -> {dst} given twice "
                f"(first at line {transitions[src, dst][0]})"
            )
        transitions[src, dst] = (no, lo, hi)

    if "fps" not in vectors:
        raise LayoutError(f"{path}: missing the 'fps' line (one frame rate per camera)")
    fps_line, fps = vectors["fps"]
    n = len(fps)
    if names is not None and len(names) != n:
        raise LayoutError(f"{path}:{fps_line}: {n} fps values for {len(names)} cameras")
    for (src, dst), (no, _, _) in transitions.items():
        if max(src, dst) >= n:
            raise LayoutError(
                f"{path}:{no}: camera {max(src, dst)} is out of range for {n} cameras (from 'fps')"
            )
    offset = _vector(vectors, "offset", n, 0.0, path)
    scale = _vector(vectors, "scale", n, 1.0, path)
    allowed = np.zeros((n, n), dtype=bool)
    min_gap = np.full((n, n), np.inf)
    max_gap = np.full((n, n), -np.inf)
    for (src, dst), (_, lo, hi) in transitions.items():
        allowed[src, dst] = True
        min_gap[src, dst], max_gap[src, dst] = lo, hi
    for h in handovers:
        if max(h.camera, h.other) >= n:
            raise LayoutError(
                f"{path}: handover camera {max(h.camera, h.other)} is out of range for {n} cameras"
            )
    layout = _build(path, np.array(fps), offset, scale, allowed, min_gap, max_gap, fps_line)
    return replace(layout, handover=tuple(handovers))


def _handover(tokens: list[str], names: Sequence[str] | None, path: Path, no: int) -> Handover:
    if len(tokens) != 7:
        raise LayoutError(f"{path}:{no}: expected 'handover cam other x0 y0 x1 y1' (pixels of cam)")
    cam, other = (_camera_index(t, names, path, no) for t in tokens[1:3])
    x0, y0, x1, y1 = (_number(t, path, no) for t in tokens[3:])
    if cam == other or x1 <= x0 or y1 <= y0:
        raise LayoutError(f"{path}:{no}: handover needs two different cameras and x0 < x1, y0 < y1")
    return Handover(cam, other, (x0, y0, x1, y1))


def _camera_index(token: str, names: Sequence[str] | None, path: Path, no: int) -> int:
    if token.isdigit():
        return int(token)
    if names is not None and token in names:
        return list(names).index(token)
    known = (
        f" (known cameras: {', '.join(names)})" if names else " (give 0-based indices or pass camera names)"
    )
    raise LayoutError(f"{path}:{no}: unknown camera '{token}'{known}")


def _vector(
    vectors: dict[str, tuple[int, list[float]]], name: str, n: int, fill: float, path: Path
) -> np.ndarray:
    if name not in vectors:
        return np.full(n, fill)
    no, values = vectors[name]
    if len(values) != n:
        raise LayoutError(f"{path}:{no}: '{name}' has {len(values)} values, expected {n} (one per camera)")
    return np.array(values)


def _build(
    path: Path,
    fps: np.ndarray,
    offset: np.ndarray,
    scale: np.ndarray,
    allowed: np.ndarray,
    min_gap: np.ndarray,
    max_gap: np.ndarray,
    fps_line: int,
) -> CameraLayout:
    if np.any(fps <= 0) or not np.all(np.isfinite(fps)):
        raise LayoutError(f"{path}:{fps_line}: every fps must be a positive number, got {fps.tolist()}")
    if np.any(scale <= 0) or not np.all(np.isfinite(scale)):
        raise LayoutError(f"{path}: every scale must be a positive number, got {scale.tolist()}")
    return CameraLayout(
        fps=fps.astype(np.float64),
        offset=offset.astype(np.float64),
        scale=scale.astype(np.float64),
        allowed=allowed,
        min_gap=min_gap,
        max_gap=max_gap,
        source=str(path),
    )


def _parse_sectioned(path: Path, lines: list[tuple[int, str]]) -> CameraLayout:
    sections: dict[str, tuple[int, list[list[float]]]] = {}
    i = 0
    while i < len(lines):
        no, head = lines[i]
        if head not in SECTION_NAMES:
            raise LayoutError(
                f"{path}:{no}: expected a section name ({', '.join(SECTION_NAMES)}), got '{head}'"
            )
        if head in sections:
            raise LayoutError(f"{path}:{no}: section '{head}' given twice")
        rows: list[list[float]] = []
        i += 1
        while i < len(lines) and lines[i][1] not in SECTION_NAMES:
            row_no, row = lines[i]
            rows.append([_number(t, path, row_no) for t in row.split()])
            i += 1
        if not rows:
            raise LayoutError(f"{path}:{no}: section '{head}' has no values")
        sections[head] = (no, rows)

    missing = [s for s in ("fps", "compatibility", "dtmin", "dtmax") if s not in sections]
    if missing:
        raise LayoutError(f"{path}: missing section(s) {', '.join(missing)}")
    fps_line, fps_rows = sections["fps"]
    if len(fps_rows) != 1:
        raise LayoutError(f"{path}:{fps_line}: 'fps' takes one row of values")
    n = len(fps_rows[0])
    vectors = {"fps": fps_rows[0]}
    for name in ("offset", "scales"):
        if name in sections:
            no, rows = sections[name]
            if len(rows) != 1 or len(rows[0]) != n:
                raise LayoutError(f"{path}:{no}: '{name}' takes one row of {n} values")
            vectors[name] = rows[0]
    matrices = {}
    for name in ("compatibility", "dtmin", "dtmax"):
        no, rows = sections[name]
        if len(rows) != n or any(len(r) != n for r in rows):
            raise LayoutError(f"{path}:{no}: '{name}' must be a {n}x{n} matrix (one row per camera)")
        matrices[name] = np.array(rows, dtype=np.float64)
    allowed = matrices["compatibility"] != 0
    min_gap, max_gap = matrices["dtmin"], matrices["dtmax"]
    bad = np.argwhere(allowed & (min_gap > max_gap))
    if len(bad):
        i, j = bad[0]
        raise LayoutError(f"{path}:{sections['dtmin'][0]}: dtmin[{i}][{j}] is larger than dtmax[{i}][{j}]")
    reentry = np.flatnonzero(np.diag(allowed) & (np.diag(min_gap) <= 0))
    if len(reentry):
        c = int(reentry[0])
        raise LayoutError(
            f"{path}:{sections['compatibility'][0]}: compatibility[{c}][{c}] allows re-entry into "
            f"camera {c}, which needs dtmin[{c}][{c}] > 0, got {min_gap[c, c]:g}"
        )
    return _build(
        path,
        np.array(vectors["fps"]),
        np.array(vectors.get("offset", [0.0] * n)),
        np.array(vectors.get("scales", [1.0] * n)),
        allowed,
        min_gap,
        max_gap,
        fps_line,
    )


def shortest_routes(allowed: np.ndarray, min_gap: np.ndarray) -> np.ndarray:
    """Smallest sum of ``min_gap`` over routes of 1 to C - 1 transitions from camera a to camera b.

    A vehicle leaving camera a at ``t`` is out of camera b's view no earlier than
    ``t + route_min[a, b]`` whatever way it went, so a layout lists only the transitions between
    neighbouring cameras and the route bounds follow (``inf``: no route). Walks may repeat a
    camera, so with overlapping views in both directions (a cycle of negative total) the bound
    is looser than the best simple route, never tighter. There is no longest-route bound: the
    time a vehicle spends in the views in between (a queue, a stop) has no limit.
    """
    step = np.where(allowed, min_gap, np.inf)
    best, walk = step.copy(), step
    with np.errstate(invalid="ignore"):
        for _ in range(len(step) - 2):
            extended = walk[:, :, None] + step[None, :, :]  # -inf + inf: no route through there
            walk = np.where(np.isnan(extended), np.inf, extended).min(axis=1)
            best = np.minimum(best, walk)
    return best
