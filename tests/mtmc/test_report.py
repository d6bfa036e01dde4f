"""The run report: pure summaries on hand-worked numbers, then the page of a real express run (demo cameras).

The browser test needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package
(dev extra); it is skipped with the reason otherwise. Set ``VEHICLE_MTMC_REPORT_SCREENSHOT=path.png``
to keep its screenshot (the README's ``docs/report.png`` is made so).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from config.layout import CameraLayout
from mot.tracklet import Tracklet
from mtmc.multicam_tracklet import MulticamTracklet
from mtmc.report.html import Page, render, tick_step, timeline_svg
from mtmc.report.inputs import CameraSource, camera_sources, run_layout
from mtmc.report.summary import best_row, cross_camera_similarity, overlap_seconds, select, summarise
from mtmc.run_express_mtmc import main as run_express
from mtmc.run_mtmc import main as run_mtmc
from mtmc.run_report import main as run_report
from mtmc.storage import load_multicam
from tests.mtmc.chaos import express_argv

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def tracklet(
    camera: int, track_id: int, frames: list[int], boxes: list[list[float]], scores: list[float]
) -> Tracklet:
    return Tracklet(track_id, camera, np.array(frames), np.array(boxes, np.float32), np.array(scores))


def layout(n: int, fps: float = 10.0) -> CameraLayout:
    return CameraLayout(
        np.full(n, fps), np.zeros(n), np.ones(n), np.zeros((n, n), bool), *np.zeros((2, n, n))
    )


def test_best_row_is_the_largest_scored_box_and_a_box_cut_by_the_border_counts_a_quarter() -> None:
    t = tracklet(0, 1, [0, 1, 2], [[10, 10, 20, 20], [50, 50, 30, 30], [0, 40, 40, 40]], [0.9, 0.5, 0.9])
    # area x score: 360, 450, 1440 but the last touches the left border: 360
    assert best_row(t, (100, 200)) == 1
    right = tracklet(0, 2, [0, 1], [[150, 40, 50, 40], [10, 40, 30, 30]], [0.9, 0.9])  # 1800 at the edge, 810
    assert best_row(right, (100, 200)) == 1  # 1800 / 4 < 810
    assert best_row(right, None) == 0  # no frame size: the right border is unknown
    assert best_row(tracklet(0, 1, [0, 1], [[10, 10, 20, 20], [10, 10, 20, 20]], [0.4, 0.8]), (100, 100)) == 1


def test_cross_camera_similarity_averages_pairs_of_different_cameras_only() -> None:
    d = np.array([[1, 0], [0.6, 0.8], [0, 1], [0, 0]], np.float32)  # last row: no feature
    cameras = np.array([0, 1, 0, 1])
    # cross pairs: (0,1) 0.6 and (1,2) 0.8; (0,2) is one camera, row 3 has no feature
    mean, low = cross_camera_similarity(d, cameras)
    assert mean == pytest.approx(0.7) and low == pytest.approx(0.6)
    assert cross_camera_similarity(d[:1], cameras[:1]) is None


def test_overlap_counts_only_time_seen_by_two_cameras_at_once() -> None:
    starts, ends = np.array([0.0, 2.0, 1.0]), np.array([3.0, 5.0, 1.5])
    assert overlap_seconds(starts, ends, np.array([0, 1, 0])) == pytest.approx(1.0)  # 2..3 only
    assert overlap_seconds(starts, ends, np.array([0, 0, 0])) == 0.0


def two_vehicles() -> list[MulticamTracklet]:
    a = tracklet(0, 1, [0, 10], [[0, 0, 10, 10], [5, 5, 10, 10]], [0.9, 0.9])
    b = tracklet(1, 4, [20, 30], [[0, 0, 10, 10], [5, 5, 10, 10]], [0.9, 0.9])
    c = tracklet(1, 5, [5, 6], [[0, 0, 10, 10], [5, 5, 10, 10]], [0.9, 0.9])
    return [MulticamTracklet(1, [a, b], {"color": "white", "type": "van"}), MulticamTracklet(2, [c])]


def test_summarise_gives_times_on_the_common_clock_and_the_match_similarity() -> None:
    descriptors = np.array([[1, 0], [0.8, 0.6], [0, 1]], np.float32)
    views = summarise(two_vehicles(), layout(2), descriptors, [(100, 100), (100, 100)])
    first, second = views
    assert first.cameras == [0, 1] and (first.first_s, first.last_s) == (0.0, 3.0)  # frame 30 at 10 fps
    assert first.similarity == pytest.approx(0.8) and first.overlap_s == 0.0
    assert second.similarity is None and second.members[0].best_frame == 6  # the box away from the corner
    multi, single = select(views, 1)
    assert [v.global_id for v in multi] == [1] and single == []
    assert [v.global_id for v in select(views, 5)[1]] == [2]


def test_timeline_has_a_bar_per_tracklet_and_the_page_escapes_names() -> None:
    views = summarise(two_vehicles(), layout(2), np.eye(3, 2, dtype=np.float32), [None, None])
    svg = timeline_svg(views, ["far", "<near>"])
    assert svg.count("<rect") == 3 and "&lt;near&gt;" in svg and "<near>" not in svg
    assert tick_step(8.0) == 1.0 and tick_step(3600.0) == 600.0
    page = Page(
        "t",
        "m",
        [("far", 1, None), ("<near>", 2, None)],
        views[:1],
        views[1:],
        (2, 1),
        0.5,
        ["far", "<near>"],
        lambda _: None,
    )
    text = render(page)
    assert "<near>" not in text and "white, van" in text and "no image" in text
    assert re.search(r"<details><summary>Vehicles seen by one camera \(1\)</summary>.*G2", text)


def test_cameras_and_clocks_come_from_the_plan_or_fall_back_to_names_and_frame_rates(tmp_path: Path) -> None:
    express = {"cameras": [{"name": "far", "video": "far.mp4", "video_info": {"fps": 25.0}}]}
    assert camera_sources(express, 2) == [CameraSource("far", "far.mp4", 25.0), CameraSource("camera1")]
    only = {"inputs": [{"file": str(tmp_path / "0_gate" / "mot.npz")}, {"file": str(tmp_path / "east.csv")}]}
    assert [c.name for c in camera_sources(only, 2)] == ["gate", "east"]  # files gone: names from paths
    clock = run_layout({}, [CameraSource("a", fps=25.0), CameraSource("b")])
    assert clock.global_time(np.array([0, 1]), np.array([50.0, 60.0])).tolist() == [2.0, 2.0]


@pytest.fixture(scope="module")
def demo_run(demo_cameras: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert run_express(express_argv(demo_cameras, out, "MOT.VIDEO_OUTPUT", "false")) == 0
    return out


def image_sources(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', page)


def test_the_express_run_writes_a_self_contained_report(demo_run: Path) -> None:
    page = (demo_run / "report.html").read_text(encoding="utf-8")
    multi = [v for v in load_multicam(demo_run / "mtmc.npz") if len(v.cameras) > 1]
    assert multi, "the demo matches some vehicle across the two views"
    for vehicle in multi:
        assert f'id="g{vehicle.global_id}"' in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    sources = image_sources(page)
    assert sources and all((demo_run / s).is_file() and (demo_run / s).stat().st_size > 0 for s in sources)
    assert "report_files/camera0.jpg" in sources and "report_files/camera1.jpg" in sources


def test_mtmc_report_rebuilds_it_with_a_cap_and_refuses_a_folder_without_results(
    demo_run: Path, tmp_path: Path
) -> None:
    (demo_run / ".report_files.dead.tmp").mkdir()  # as a report killed while writing leaves it
    assert run_report([str(demo_run), "--max-vehicles", "2"]) == 0
    assert not list(demo_run.glob(".report_files*"))
    page = (demo_run / "report.html").read_text(encoding="utf-8")
    assert page.count('class="vehicle"') == 2 and "Showing 2 of" in page
    assert len(list((demo_run / "report_files").iterdir())) == len(image_sources(page))  # no stale image
    assert run_report([str(tmp_path)]) == 2
    assert run_report([str(demo_run)]) == 0  # back to the run's own cap for the browser test


def test_an_mtmc_only_run_writes_the_report_with_crops_from_its_inputs_videos(
    demo_run: Path, demo_cameras: Path, tmp_path: Path
) -> None:
    files = f"[{demo_run / '0_far/mot.npz'}, {demo_run / '1_near/mot.npz'}]"
    config = tmp_path / "mtmc.yaml"
    config.write_text(
        f"OUTPUT_DIR: {tmp_path / 'out'}\nMTMC:\n  CAMERA_LAYOUT: {demo_cameras / 'layout.txt'}\n"
        f"  TRACKLETS: {files}\n"
    )
    assert run_mtmc(["--config", str(config)]) == 0
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "far" in page and "near" in page and "no image" not in page  # names and videos from mot.npz
    assert page.count('class="vehicle"') == (demo_run / "report.html").read_text().count('class="vehicle"')
    # MTMC.REPORT_MAX_VEHICLES 0: no report, and the earlier one is gone with the earlier result set
    assert run_mtmc(["--config", str(config), "MTMC.REPORT_MAX_VEHICLES", "0"]) == 0
    assert not (tmp_path / "out" / "report.html").exists()


def test_a_missing_video_leaves_its_crops_out_and_the_page_says_so(demo_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(demo_run, copy)
    plan = json.loads((copy / "plan.json").read_text())
    plan["cameras"][1]["video"] = str(tmp_path / "gone.mp4")
    (copy / "plan.json").write_text(json.dumps(plan))
    assert run_report([str(copy)]) == 0
    page = (copy / "report.html").read_text(encoding="utf-8")
    assert "no image" in page and "report_files/camera0.jpg" in page
    assert "report_files/camera1.jpg" not in page
    assert all((copy / s).is_file() for s in image_sources(page))


def test_report_in_headless_chromium(demo_run: Path, tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (CHROMIUM.exists() and DRIVER.exists()):
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed (run_tests.sh installs them as root)"
        )
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1400",
    ):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must not look for drivers online
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    try:
        driver.get((demo_run / "report.html").as_uri())
        driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
        images = driver.execute_script(
            "return [...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])"
        )
        assert images and all(ok for _, ok in images), [src for src, ok in images if not ok]
        headings = driver.execute_script(
            "return [...document.querySelectorAll('.vehicle h3')].map(h => h.textContent)"
        )
        assert any("far" in h and "near" in h for h in headings)
        assert driver.execute_script("return document.querySelectorAll('svg rect').length") >= len(headings)
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert not errors, errors
        if target := os.environ.get("VEHICLE_MTMC_REPORT_SCREENSHOT"):
            driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = false)")
            Path(target).write_bytes(driver.get_screenshot_as_png())
    finally:
        driver.quit()
