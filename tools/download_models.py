"""Download the default models from their public origins and check their sha256.

    python tools/download_models.py --list
    python tools/download_models.py yolox_nano [--dest models/]

Needs internet access; nothing else in the project downloads anything.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import urllib.request
from pathlib import Path

from config.paths import atomic_write
from models.registry import MODELS_DIR, Download, load_manifest, sha256_of

log = logging.getLogger("tools.download_models")


def fetch(item: Download, dest_dir: Path, timeout: float = 60.0) -> Path:
    """Download ``item`` into ``dest_dir``; the file appears only if its sha256 matches."""
    target = dest_dir / item.file
    if target.exists() and sha256_of(target) == item.sha256:
        log.info("%s: present, checksum ok", target)
        return target
    digest = hashlib.sha256()
    with urllib.request.urlopen(item.url, timeout=timeout) as response, atomic_write(target) as out:
        while block := response.read(1 << 20):
            digest.update(block)
            out.write(block)
        if digest.hexdigest() != item.sha256:
            raise ValueError(
                f"{item.url}: sha256 {digest.hexdigest()} does not match the manifest's {item.sha256}"
            )
    log.info("%s: downloaded, checksum ok", target)
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
