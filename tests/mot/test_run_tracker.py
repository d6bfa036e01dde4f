"""The MOT runner end to end on real video: outputs, annotated video, inputs that fail."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mot.exports import load_csv, load_mot_txt
from mot.run_tracker import main as run_tracker
from mot.tracklet_file import load_tracklet_file
from tests.conftest import EXAMPLES, INTERSECTION


@pytest.fixture(scope="module")
def intersection_run(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Path:
    out = tmp_path_factory.mktemp("mot")
    code = run_tracker(["--config", str(EXAMPLES / "mot_intersection.yaml"), "OUTPUT_DIR", str(out)])
    assert code == 0
    return out


def test_every_output_is_written_and_consistent(intersection_run: Path) -> None:
    names = {p.name for p in intersection_run.iterdir()}
    assert {"mot.npz", "mot.pkl", "mot.csv", "mot.txt", "mot.mp4", "config.yaml", "plan.json"} <= names
    table = load_tracklet_file(intersection_run / "mot.npz")
    assert table.info["complete"] and table.info["frames_read"] == 252
    tracklets = table.tracklets
    assert len(tracklets) >= 15  # a busy intersection over 8 s
    assert all(len(t) >= 3 and t.mean_feature is not None and len(t.features) for t in tracklets)
    assert all(t.class_id in (2, 3, 5, 7) for t in tracklets)
    txt = load_mot_txt(intersection_run / "mot.txt").tracklets
    csv = load_csv(intersection_run / "mot.csv").tracklets
    for a, b, c in zip(tracklets, txt, csv, strict=True):
        assert a.track_id == b.track_id == c.track_id
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_allclose(a.bboxes, b.bboxes, atol=1e-3)
        np.testing.assert_allclose(a.bboxes, c.bboxes, atol=1e-3)
    assert sum(len(t) for t in tracklets) == len(pd.read_csv(intersection_run / "mot.txt", header=None))


def test_annotated_video_plays_and_its_boxes_are_those_of_mot_txt(intersection_run: Path) -> None:
    boxes = pd.read_csv(intersection_run / "mot.txt", header=None).to_numpy()
    annotated = cv2.VideoCapture(str(intersection_run / "mot.mp4"))
    original = cv2.VideoCapture(str(INTERSECTION))
    assert int(annotated.get(cv2.CAP_PROP_FRAME_WIDTH)) == 960
    assert int(annotated.get(cv2.CAP_PROP_FRAME_HEIGHT)) == 540
    frames = 0
    while True:
        ok, drawn = annotated.read()
        if not ok:
            break
        clean = original.read()[1]
        frames += 1
        if frames % 25:
            continue
        changed = np.abs(drawn.astype(int) - clean.astype(int)).max(axis=2) > 60
        rows = boxes[boxes[:, 0] == frames]  # MOTChallenge frames are 1-based
        allowed = np.zeros(changed.shape, bool)
        for _, _, x, y, w, h, *_ in rows:
            x0, y0, x1, y1 = (round(v) for v in (x, y, x + w, y + h))
            allowed[max(0, y0 - 30) : y1 + 5, max(0, x0 - 5) : x1 + 90] = True  # box, border and label
            edge = changed[max(0, y0 - 1) : y0 + 2, max(0, x0) : x1]
            assert edge.size == 0 or edge.mean() > 0.5, f"frame {frames}: no drawn edge at {x0, y0, x1, y1}"
        assert changed.sum() > 0 and (changed & ~allowed).sum() <= 0.02 * changed.sum()
    assert frames == 252


def test_image_folder_input(tmp_path: Path, shared: Path) -> None:
    code = run_tracker(
        [
            "--config",
            str(EXAMPLES / "mot_intersection.yaml"),
            "MOT.VIDEO",
            str(shared / "data/traffic/MVI_20011"),
            "MOT.VIDEO_OUTPUT",
            "false",
            "OUTPUT_DIR",
            str(tmp_path),
        ]
    )
    assert code == 0
    table = load_tracklet_file(tmp_path / "mot.npz")
    assert table.info["frames_read"] == 9 and len(table.tracklets) >= 1


def test_a_truncated_video_ends_cleanly_with_what_was_read(
    tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    cap = cv2.VideoCapture(str(INTERSECTION))
    writer = cv2.VideoWriter(str(tmp_path / "full.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (960, 540))
    for _ in range(40):
        writer.write(cap.read()[1])
    writer.release()
    data = (tmp_path / "full.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    args = ["--config", str(EXAMPLES / "mot_intersection.yaml"), "MOT.VIDEO", str(tmp_path / "cut.avi")]
    code = run_tracker([*args, "MOT.VIDEO_OUTPUT", "false", "OUTPUT_DIR", str(tmp_path / "out")])
    assert code == 3  # saved, but the video was not fully read
    err = capfd.readouterr().err
    assert "decoding stopped at frame" in err and "of 40 (truncated or corrupt file)" in err
    table = load_tracklet_file(tmp_path / "out" / "mot.npz")
    assert 0 < table.info["frames_read"] < 40 and table.tracklets
    assert table.info["video_read"]["ended_early"] and not table.info["video_read"]["fully_read"]


def test_attributes_plates_speed_and_zones_on_real_video(
    tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    pytest.importorskip("openvino")
    pytest.importorskip("rapidocr")
    zones = tmp_path / "zones"
    zones.mkdir()
    top = np.zeros((540, 960), np.uint8)
    top[:270] = 255
    cv2.imwrite(str(zones / "zone1.png"), top)
    cv2.imwrite(str(zones / "zone2.png"), 255 - top)
    (tmp_path / "cal.txt").write_text("0.05 0 0\n0 0.05 0\n0 0 1\n")  # 5 cm per pixel, seen from above
    out = tmp_path / "out"
    code = run_tracker(
        [
            "--config",
            str(EXAMPLES / "mot_intersection.yaml"),
            "OUTPUT_DIR",
            str(out),
            "MOT.VIDEO_OUTPUT",
            "false",
            "MOT.STATIC_ATTRIBUTES",
            "[{color: vehicle-attributes-recognition-barrier-0039}]",
            "MOT.ENABLE_ALPR",
            "true",
            "MOT.CALIBRATION",
            str(tmp_path / "cal.txt"),
            "MOT.ZONE_MASK_DIR",
            str(zones),
        ]
    )
    assert code == 0
    tracklets = load_tracklet_file(out / "mot.npz").tracklets
    assert all(
        t.attributes["color"] in ("white", "gray", "yellow", "red", "green", "blue", "black")
        for t in tracklets
    )
    assert all(t.attributes["type"] in ("car", "bus", "truck", "motorcycle") for t in tracklets)
    assert all("zone" in t.frame_attributes and "speed" in t.frame_attributes for t in tracklets)
    assert any(
        t.zone_path == [1, 2] or t.zone_path == [2, 1] for t in tracklets
    )  # vehicles crossing the middle
    speeds = np.concatenate([t.frame_attributes["speed"] for t in tracklets])
    assert 0 <= np.median(speeds) < 100  # city traffic, km/h at 5 cm per pixel
    table = pd.read_csv(out / "mot.csv")
    assert table["speed"].notna().all() and (table["color"] != "").all()
    assert "plate reads" in capfd.readouterr().err


def test_tracking_without_reid_gives_the_same_tracks_without_features(
    intersection_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """MOT.REID_BACKEND none (tracking only, as ultralytics' track()): ByteTrack never reads
    features, so the tracks are those of the run with ReID; only the features are missing."""
    args = ["--config", str(EXAMPLES / "mot_intersection.yaml"), "OUTPUT_DIR", str(tmp_path)]
    colour = ["MOT.COLOR_HIST_BINS", "[8, 4, 4]", "MOT.COLOR_HIST_GREY_BINS", "0"]  # the tracker's histogram
    assert run_tracker([*args, "MOT.REID_BACKEND", "none", "MOT.VIDEO_OUTPUT", "false", *colour]) == 0
    plain = load_tracklet_file(tmp_path / "mot.npz").tracklets
    with_reid = load_tracklet_file(intersection_run / "mot.npz").tracklets
    assert [t.track_id for t in plain] == [t.track_id for t in with_reid]
    for a, b in zip(plain, with_reid, strict=True):
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_allclose(a.bboxes, b.bboxes, atol=1e-3)
        assert a.mean_feature is None and len(a.features) == 0 and a.color_histogram is not None
        assert a.color_histogram.shape == (128,) and b.color_histogram.shape == (16 * 3 * 3 + 16,)
    assert run_tracker([*args, "MOT.REID_BACKEND", "none", "MOT.TRACKER", "deepsort"]) == 2
    assert (
        "'none' gives no appearance features, which MOT.TRACKER deepsort matches on"
        in capsys.readouterr().err
    )
