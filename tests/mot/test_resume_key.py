"""The resume fingerprint's file part: the files a camera config names, hashed once per file version."""

from __future__ import annotations

import os
from pathlib import Path

from config.loader import load_config
from mot.result_set import fingerprint
from mot.resume_key import HashCache, code_version, referenced_files
from tests.conftest import EXAMPLES


def test_every_model_file_is_covered_with_openvino_weights(shared: Path) -> None:
    cfg = load_config(EXAMPLES / "mot_intersection.yaml", ["MOT.DETECTOR", "vehicle-detection-0202"])
    names = [p.name for p in referenced_files(cfg.MOT)]
    assert names == [
        "vehicle_reid_mnv2_aic_vn2cam.onnx",
        "vehicle-detection-0202.bin",
        "vehicle-detection-0202.xml",
    ]
    assert "+" in code_version()


def test_hashes_are_cached_by_path_size_and_mtime(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"weights v1")
    cache = HashCache(tmp_path / "hashes.json")
    first = cache.digest(model)
    cache.save()
    stat = model.stat()
    model.write_bytes(b"weights v2")  # same size; the same mtime restored below
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert HashCache(tmp_path / "hashes.json").digest(model) == first  # read from the cache, not the file
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert HashCache(tmp_path / "hashes.json").digest(model) != first


def test_a_replaced_mask_changes_the_fingerprint(shared: Path, tmp_path: Path) -> None:
    mask = tmp_path / "roi.png"
    mask.write_bytes((shared / "data/images/bus.jpg").read_bytes())
    cfg = load_config(EXAMPLES / "mot_intersection.yaml", ["MOT.DETECTION_MASK", str(mask)])
    before = fingerprint(cfg.MOT)
    mask.write_bytes((shared / "data/images/dog.jpg").read_bytes())
    assert fingerprint(cfg.MOT) != before
