"""mtmc-download-models checks sha256, sha384 and size on local copies: file:// and 127.0.0.1 HTTP."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.registry import Download, manifest_entry
from tools.download_models import fetch

# The real photo ../shared/data/images/dog.jpg, hashed with sha384sum / sha256sum.
DOG_SHA384 = (
    "d8ca3288342abea82b54a23283b73402c719718e9b1dab4a972804237d736da84711d05faa5689679a4d7a52d7a55dd9"
)
DOG_SHA256 = "5a9522051c3cec2bbd2f6323fccba32e8fbf3ddcc2b3e2fd46b04c720bc6f866"


@pytest.fixture
def dog(shared: Path) -> Path:
    return shared / "data" / "images" / "dog.jpg"


@pytest.fixture
def http_root(dog: Path) -> Iterator[str]:
    """A local HTTP server on 127.0.0.1 serving the photo's folder."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(dog.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_matching_sha384_is_accepted(dog: Path, tmp_path: Path) -> None:
    item = Download("dog.jpg", "", dog.as_uri(), sha384=DOG_SHA384, size=dog.stat().st_size)
    target = fetch(item, tmp_path)
    assert target.read_bytes() == dog.read_bytes()


def test_sha256_and_sha384_together_over_http(dog: Path, tmp_path: Path, http_root: str) -> None:
    item = Download("dog.jpg", DOG_SHA256, f"{http_root}/dog.jpg", sha384=DOG_SHA384)
    assert fetch(item, tmp_path).read_bytes() == dog.read_bytes()


@pytest.mark.parametrize(
    "item_fields, message",
    [
        ({"sha384": "0" * 96}, "sha384"),
        ({"sha256": "0" * 64, "sha384": DOG_SHA384}, "sha256"),
        ({"sha384": DOG_SHA384, "size": 123}, "123"),
    ],
)
def test_a_mismatch_leaves_no_file(
    dog: Path, tmp_path: Path, http_root: str, item_fields: dict, message: str
) -> None:
    fields = {"sha256": "", **item_fields}
    item = Download("dog.jpg", fields.pop("sha256"), f"{http_root}/dog.jpg", **fields)
    with pytest.raises(ValueError, match=message):
        fetch(item, tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing under the name, no temporary file left


def test_a_corrupt_present_copy_is_replaced(dog: Path, tmp_path: Path) -> None:
    (tmp_path / "dog.jpg").write_bytes(b"partial")
    fetch(Download("dog.jpg", "", dog.as_uri(), sha384=DOG_SHA384), tmp_path)
    assert (tmp_path / "dog.jpg").read_bytes() == dog.read_bytes()


def test_an_item_without_checksum_is_refused(dog: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no sha256 or sha384"):
        fetch(Download("dog.jpg", "", dog.as_uri()), tmp_path)


def test_the_omz_vehicle_reid_entry() -> None:
    entry = manifest_entry("vehicle-reid-0001")
    assert entry is not None and entry.role == "reid" and entry.prefer_when_present
    assert entry.file == "osnet_ain_x1_0_vehicle_reid.onnx" and entry.licence == "MIT"
    (item,) = entry.downloads
    assert item.size == 8_836_743 and len(item.sha384) == 96
    assert item.digests == {"sha384": entry.sha384}
    assert item.url.endswith("/public/2022.1/vehicle-reid-0001/osnet_ain_x1_0_vehicle_reid.onnx")
    assert manifest_entry("osnet_ain_x1_0_vehicle_reid.onnx") is entry
