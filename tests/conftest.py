"""Shared fixtures: the reference data in ../shared and the demo crop-view cameras."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VEHICLE_MTMC_SHARED", REPO.parent / "shared"))
INTERSECTION = SHARED / "data" / "traffic" / "intersection_960x540.mp4"
EXAMPLES = REPO / "config" / "examples"
DEMO_CAMERAS = REPO / "output" / "demo_cameras"


def pytest_report_header() -> str:
    return f"shared data: {SHARED} ({'found' if SHARED.is_dir() else 'MISSING'})"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"reference data not found at {SHARED}; set VEHICLE_MTMC_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def demo_cameras(shared: Path) -> Path:
    """The crop-view cameras the example configs point at (made as run.sh makes them)."""
    from tools.make_crop_views import DEFAULT_VIEWS, View, make_views

    layout = DEMO_CAMERAS / "layout.txt"
    if not layout.is_file() or "handover" not in layout.read_text():  # made before hand-over lines
        make_views(str(INTERSECTION), DEMO_CAMERAS, [View.parse(v) for v in DEFAULT_VIEWS], -1.0, 5.0)
    return DEMO_CAMERAS
