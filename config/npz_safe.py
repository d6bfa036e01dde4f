"""Read named members of an ``.npz`` archive with sizes checked before anything is allocated or inflated.

``np.load`` trusts the archive: it inflates every member asked for, so a few megabytes of
deflated zeros become gigabytes, and an ``.npy`` header declaring a shape of 10**12 rows
makes numpy allocate (or fail with a traceback). Here only the members the caller names are
read, and each one's size, computed from its ``.npy`` header (shape x item size), must

* fit the member's uncompressed size declared in the zip directory,
* stay under ``MAX_MEMBER_BYTES``, and
* for members over ``RATIO_FREE_BYTES``, be at most ``MAX_RATIO`` times its compressed size
  (``np.savez`` stores members uncompressed; real data deflates a few times at most),

before a byte of data is inflated; then exactly that many bytes are read.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Collection
from pathlib import Path
from typing import IO

import numpy as np

MAX_MEMBER_BYTES = 4 << 30  # 4 GiB: ~800,000 1280-d features
RATIO_FREE_BYTES = 64 << 20  # smaller members are not checked for their compression ratio
MAX_RATIO = 100


class NpzLimitError(ValueError):
    """An archive member that is damaged, holds Python objects or is larger than allowed."""


def read_members(path: str | Path, names: Collection[str]) -> dict[str, np.ndarray]:
    """The arrays ``names`` (those present; others in the archive are never read) of ``path``.

    Raises:
        NpzLimitError: a member is not a plain ``.npy`` array or breaks a size limit; the message
            names the file and the member.
        zipfile.BadZipFile, OSError: the archive itself cannot be read.
    """
    path = Path(path)
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: info for info in archive.infolist()}
        for name in names:
            info = members.get(f"{name}.npy")
            if info is not None:
                with archive.open(info) as f:
                    out[name] = _read_array(f, info, f"{path}: member '{name}'")
    return out


def _read_array(f: IO[bytes], info: zipfile.ZipInfo, where: str) -> np.ndarray:
    try:
        version = np.lib.format.read_magic(f)
        shape, fortran, dtype = (
            np.lib.format.read_array_header_1_0(f)
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0(f)
        )
    except ValueError as err:
        raise NpzLimitError(f"{where} is not a numpy array ({err})") from None
    if dtype.hasobject:
        raise NpzLimitError(f"{where} holds Python objects, never loaded")
    nbytes = math.prod(shape) * dtype.itemsize
    problem = size_problem(nbytes, info.file_size, info.compress_size)
    if problem:
        raise NpzLimitError(f"{where} declares shape {shape} of {dtype} ({nbytes} bytes): {problem}")
    buffer = np.empty(nbytes, np.uint8)
    got = f.readinto(memoryview(buffer))
    if got != nbytes:
        raise NpzLimitError(f"{where} is truncated ({got} of {nbytes} bytes)")
    try:
        return buffer.view(dtype).reshape(shape, order="F" if fortran else "C")
    except ValueError as err:
        raise NpzLimitError(f"{where} is not a readable array ({err})") from None


def size_problem(nbytes: int, declared: int, compressed: int) -> str | None:
    """Why an array of ``nbytes`` in a member of ``declared`` (``compressed``) bytes is refused, or None."""
    if nbytes > declared:
        return f"more than the member's {declared} bytes (damaged or forged header)"
    if nbytes > MAX_MEMBER_BYTES:
        return f"more than the {MAX_MEMBER_BYTES} bytes allowed for one member"
    if nbytes > RATIO_FREE_BYTES and nbytes > MAX_RATIO * max(compressed, 1):
        return f"inflated from {compressed} bytes, more than {MAX_RATIO}x (a zip bomb?)"
    return None
