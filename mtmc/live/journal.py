"""Append-only checkpoint of a live camera's finished tracklets: what a crash cannot take back.

A live session runs for weeks, so it cannot keep every finished tracklet in memory and write
them only at shutdown. Each camera's worker appends the tracklets that finished since its last
checkpoint (every ``LIVE.CHECKPOINT_SECONDS``) to ``live.journal`` in its folder, then drops
them from memory. One record::

    b"VMJ1"  payload bytes (uint32 LE)  CRC-32 of the payload (uint32 LE)  record number (uint32 LE)
    payload: an uncompressed .npz of the canonical tracklet members (``mot.tracklet_file.tracklet_arrays``)
             whose ``info`` holds the session id, the camera and the record number

Each append is flushed and fsync'ed before the tracklets leave memory, so a kill -9 or a power
cut loses at most the tracklets of the current interval. A record cut short by the crash (or
damaged: its CRC does not match) ends the readable part: ``read_journal`` returns the records
before it and says how many bytes it skipped. ``iter_records`` reads one record at a time, so
consolidating a weeks-long journal never holds it whole in memory.

Tracks still open are checkpointed too: each checkpoint replaces ``live.open`` (one record,
written to a temporary file, fsync'ed, renamed over the last one) with a snapshot of every open
track as it stands, each marked ``incomplete``. A snapshot is superseded by the next one and by
the track's finished record in the journal, so the file never grows with superseded snapshots
and a kill -9 loses at most one interval of any track, however long it has been open.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import struct
import time
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from config.paths import atomic_write, storage_errors
from mot.tracklet import Tracklet
from mot.tracklet_file import TrackletFileError, TrackletTable, table_from_arrays, tracklet_arrays

log = logging.getLogger(__name__)

JOURNAL_NAME = "live.journal"
OPEN_NAME = "live.open"  # snapshots of the tracks open at the last checkpoint
INCOMPLETE = "incomplete"  # attribute of a snapshot: the track was still open
MAGIC = b"VMJ1"
HEADER = struct.Struct("<4sIII")
MAX_RECORD = 1 << 30  # bytes: one interval's tracklets are far smaller; more means a damaged header


@dataclass
class JournalContents:
    """What a journal holds: its tracklets, their records' session id, and what was unreadable."""

    tracklets: list[Tracklet] = field(default_factory=list)
    session_id: str = ""
    records: int = 0
    skipped_bytes: int = 0  # a torn or damaged tail
    problem: str = ""


class Journal:
    """One camera's append-only checkpoint file (``live.journal``)."""

    def __init__(self, path: Path, session_id: str, camera: str) -> None:
        self.path, self.session_id, self.camera = Path(path), session_id, camera
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records = 0
        self.tracklets = 0
        self._file: BinaryIO | None = None  # opened by the first append: a read-only folder fails there

    def _open(self) -> BinaryIO:
        if self._file is None:
            self._file = self.path.open("ab")
            _fsync_dir(self.path.parent)
        return self._file

    @property
    def open_path(self) -> Path:
        return self.path.with_name(OPEN_NAME)

    def append(self, tracklets: Sequence[Tracklet]) -> None:
        """Write one record and fsync it; returns once the tracklets are on disk.

        A failed write (disk full) is cut off again, so the next append does not follow a torn
        record (reading stops at one, which would hide every later record).
        """
        data = encode_record(tracklets, self.session_id, self.camera, self.records)
        with storage_errors(self.path):  # disk full or read-only: one message naming the file
            journal = self._open()
            start = journal.tell()
            try:
                journal.write(data)
                journal.flush()
                os.fsync(journal.fileno())
            except OSError:
                with contextlib.suppress(OSError):
                    journal.truncate(start)
                    journal.seek(start)
                raise
        self.records += 1
        self.tracklets += len(tracklets)

    def write_open(self, tracklets: Sequence[Tracklet]) -> None:
        """Replace ``live.open`` with snapshots of the open tracks (none: the file goes).

        Each is marked ``incomplete``; the rename makes the swap atomic, so a crash leaves the
        previous snapshot or this one, never a mix.
        """
        if not tracklets:
            self.open_path.unlink(missing_ok=True)
            return
        marked = [replace(t, attributes={**t.attributes, INCOMPLETE: True}) for t in tracklets]
        with storage_errors(self.open_path), atomic_write(self.open_path) as f:
            f.write(encode_record(marked, self.session_id, self.camera, 0))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def encode_record(tracklets: Sequence[Tracklet], session_id: str, camera: str, number: int) -> bytes:
    """One record: header, then the tracklets as an uncompressed canonical .npz."""
    info = {
        "session_id": session_id,
        "run_id": session_id,
        "camera": camera,
        "record": number,
        "written_at": time.time(),
        "live": True,
    }
    payload = io.BytesIO()
    np.savez(payload, **tracklet_arrays(tracklets, info=info))
    data = payload.getvalue()
    return HEADER.pack(MAGIC, len(data), zlib.crc32(data), number) + data


@dataclass
class RecordScan:
    """What ``iter_records`` found besides the records: their count and an unreadable tail."""

    records: int = 0
    skipped_bytes: int = 0
    problem: str = ""


def iter_records(path: Path, scan: RecordScan | None = None) -> Iterator[tuple[int, bytes]]:
    """(byte offset, payload) of each whole record, read one at a time; a torn or damaged tail
    ends the iteration and is reported in ``scan`` (and logged)."""
    scan = scan if scan is not None else RecordScan()
    size = Path(path).stat().st_size
    with Path(path).open("rb") as f:
        offset = 0
        while offset < size:
            head = f.read(HEADER.size)
            payload = b""
            if len(head) == HEADER.size:
                _, length, _, _ = HEADER.unpack(head)
                payload = f.read(length) if length <= MAX_RECORD else b""
            problem = _record_problem(head + payload, 0)
            if problem:
                scan.skipped_bytes, scan.problem = size - offset, f"{path} at byte {offset}: {problem}"
                log.warning("%s; the %d bytes from there are skipped", scan.problem, scan.skipped_bytes)
                return
            yield offset, payload
            scan.records += 1
            offset += HEADER.size + len(payload)


def record_table(payload: bytes, where: str) -> TrackletTable:
    """The tracklets of one record (see ``_record_table``)."""
    return _record_table(payload, where)


def read_journal(path: Path) -> JournalContents:
    """Every whole record of ``path`` in memory (tests, the soak bench; consolidation streams)."""
    found, scan = JournalContents(), RecordScan()
    size = Path(path).stat().st_size
    for offset, payload in iter_records(path, scan):
        try:
            table = _record_table(payload, f"{path} record {found.records}")
        except TrackletFileError as err:
            found.skipped_bytes, found.problem = size - offset, str(err)
            log.warning("%s; the %d bytes from there are skipped", err, found.skipped_bytes)
            return found
        session = str(table.info.get("session_id", ""))
        if found.session_id and session != found.session_id:
            raise TrackletFileError(f"{path}: records of two sessions ({found.session_id}, {session})")
        found.session_id = session
        found.tracklets += table.tracklets
        found.records += 1
    found.skipped_bytes, found.problem = scan.skipped_bytes, scan.problem
    return found


def _record_problem(data: bytes, offset: int) -> str:
    """Why the record at ``offset`` cannot be read ('' when its header and CRC check out)."""
    if len(data) - offset < HEADER.size:
        return "a record header cut short (the session was killed while writing it)"
    magic, size, crc, _ = HEADER.unpack_from(data, offset)
    if magic != MAGIC:
        return "not the start of a record (damaged file)"
    if size > MAX_RECORD:
        return f"a record header declaring {size} bytes (damaged file)"
    payload = data[offset + HEADER.size : offset + HEADER.size + size]
    if len(payload) < size:
        return f"a record cut short ({len(payload)} of {size} bytes; the session was killed while writing it)"
    if zlib.crc32(payload) != crc:
        return "a record whose checksum does not match (damaged)"
    return ""


def _record_table(payload: bytes, where: str) -> TrackletTable:
    """The tracklets of one record; only uncompressed members (as written) are read."""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            if any(i.compress_type != zipfile.ZIP_STORED for i in archive.infolist()):
                raise TrackletFileError(f"{where}: compressed members (not written by a live session)")
        with np.load(io.BytesIO(payload), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as err:
        raise TrackletFileError(f"{where}: unreadable ({err})") from err
    return table_from_arrays(arrays, where)


def _fsync_dir(folder: Path) -> None:
    """Make a new file's directory entry durable too (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
