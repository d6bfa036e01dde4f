"""Download the default models from their public origins and check them against the manifest.

    python tools/download_models.py --list
    python tools/download_models.py yolox_nano [--dest models/]

Every checksum the manifest gives for a file is verified: sha256 and/or sha384 (the Open Model Zoo
publishes sha384), and the size when given. A file appears under its name only when all match (it is
written to a temporary file first), and a present file is kept only when it still matches. A file with
no checksum at all is refused. A downloaded vehicle ReID model is then preferred over the shipped
default (``config.reid_defaults``; docs/reid.md). Needs internet access; nothing else downloads anything.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import urllib.request
from pathlib import Path

from config.paths import atomic_write
from models.registry import MODELS_DIR, Download, digest_of, load_manifest

log = logging.getLogger("tools.download_models")


def matches(path: Path, item: Download) -> bool:
    """Whether ``path`` has the size and every checksum the manifest gives for ``item``."""
    if item.size is not None and path.stat().st_size != item.size:
        return False
    return all(digest_of(path, name) == value for name, value in item.digests.items())


def fetch(item: Download, dest_dir: Path, timeout: float = 60.0) -> Path:
    """Download ``item`` into ``dest_dir``; the file appears only if its size and checksums match.

    Raises ``ValueError`` for a mismatch (naming the URL, the algorithm, both values) or an item
    without checksum, ``OSError`` for network and file errors.
    """
    if not item.digests:
        raise ValueError(
            f"{item.file}: the manifest gives no sha256 or sha384, so a download cannot be checked"
        )
    target = dest_dir / item.file
    if target.exists() and matches(target, item):
        log.info("%s: present, checksum ok", target)
        return target
    digests = {name: hashlib.new(name) for name in item.digests}
    size = 0
    with urllib.request.urlopen(item.url, timeout=timeout) as response, atomic_write(target) as out:
        while block := response.read(1 << 20):
            for digest in digests.values():
                digest.update(block)
            out.write(block)
            size += len(block)
        if item.size is not None and size != item.size:
            raise ValueError(f"{item.url}: {size} bytes, the manifest says {item.size}")
        for name, digest in digests.items():
            got, want = digest.hexdigest(), item.digests[name]
            if got != want:
                raise ValueError(f"{item.url}: {name} {got} does not match the manifest's {want}")
    log.info("%s: downloaded, %s ok", target, " and ".join(item.digests))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Download default models listed in models/manifest.json.")
    parser.add_argument("names", nargs="*", help="manifest names (default: all)")
    parser.add_argument("--dest", type=Path, default=MODELS_DIR, help="target directory (default: models/)")
    parser.add_argument("--list", action="store_true", help="list the manifest and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    manifest = load_manifest()
    if args.list:
        for entry in manifest.values():
            print(f"{entry.name:48s} {entry.licence:11s} {entry.description}")
        return 0
    unknown = [n for n in args.names if n not in manifest]
    if unknown:
        log.error("unknown model(s) %s; known: %s", ", ".join(unknown), ", ".join(manifest))
        return 2
    failed = 0
    for entry in (manifest[n] for n in args.names or manifest):
        if not entry.url:
            log.warning("%s has no public copy; create it with: %s", entry.name, entry.export)
            continue
        try:
            for item in entry.downloads:
                fetch(item, args.dest)
        except (OSError, ValueError) as err:
            log.error("%s: %s", entry.name, err)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
