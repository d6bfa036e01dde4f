"""Turn a camera's checkpoints into its result set with bounded memory, however long the session ran.

A weeks-long session's journal holds millions of boxes; reading it whole at shutdown (or at the
recovery after a crash) would spike memory by its size. ``write_result_set`` writes the same
files as ``mot.storage.save_all`` (``live.{pkl,csv,txt,npz}``, the canonical file last) while
holding only an index of the tracklets (track id, record, position: a few bytes each), a small
cache of decoded records and one run of CSV rows:

1. index every record of ``live.journal`` and the open-track snapshot ``live.open``; a track's
   finished record supersedes its snapshot, a later record an earlier one;
2. the pickle is streamed tracklet by tracklet, in track id order (no memo: nothing is kept);
3. the canonical ``.npz`` members are appended batch by batch to temporary files, then copied
   into the archive behind their ``.npy`` headers (the format ``np.load`` reads);
4. CSV / MOTChallenge rows, sorted by frame then id as the batch writers sort them, go through
   an external merge sort: sorted runs of ``RUN_ROWS`` rows on disk, merged block by block.
"""

from __future__ import annotations

import io
import json
import pickle
import shutil
import tempfile
import zipfile
from array import array
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from config.paths import atomic_write, storage_errors
from mot.exports import CSV_COLUMNS
from mot.tracklet import Tracklet
from mot.tracklet_file import FORMAT_NAME, FORMAT_VERSION, TrackletFileError, tracklet_arrays
from mtmc.live.journal import HEADER, OPEN_NAME, RecordScan, iter_records, record_table

BATCH = 256  # tracklets turned into arrays at once
RUN_ROWS = 1 << 20  # CSV rows sorted in memory per run (~60 MB)
MERGE_BLOCK = 1 << 16  # rows read from each run per merge step
CACHED_RECORDS = 16
TEXT_COLUMNS = ("color", "type", "plate")
TXT_COLUMNS = ["frame", "id", "x", "y", "w", "h", "conf"]


@dataclass
class TrackIndex:
    """Where each kept tracklet is: source file (0 journal, 1 open snapshots), record offset, position."""

    track_ids: array = field(default_factory=lambda: array("q"))
    sources: array = field(default_factory=lambda: array("b"))
    offsets: array = field(default_factory=lambda: array("q"))
    positions: array = field(default_factory=lambda: array("l"))
    scan: RecordScan = field(default_factory=RecordScan)

    def add(self, track_ids: Sequence[int], source: int, offset: int) -> None:
        self.track_ids.extend(track_ids)
        self.sources.extend([source] * len(track_ids))
        self.offsets.extend([offset] * len(track_ids))
        self.positions.extend(range(len(track_ids)))

    def order(self) -> np.ndarray:
        """Entries to write, by track id: the last finished record of a track, else its snapshot."""
        if not self.track_ids:
            return np.zeros(0, np.int64)
        ids = np.frombuffer(self.track_ids, np.int64)
        finished = np.frombuffer(self.sources, np.int8) == 0
        sequence = np.arange(len(ids))
        rank = np.where(finished, sequence, sequence - len(ids))  # any finished record beats a snapshot
        order = np.lexsort((rank, ids))
        last = np.r_[ids[order][1:] != ids[order][:-1], True]
        return order[last]


def build_index(directory: Path, journal: Path) -> TrackIndex:
    """Index the journal (its readable part) and the open-track snapshots."""
    index = TrackIndex()
    for source, path in ((0, journal), (1, directory / OPEN_NAME)):
        if not path.is_file():
            continue
        scan = index.scan if source == 0 else RecordScan()
        for offset, payload in iter_records(path, scan):
            try:
                with np.load(io.BytesIO(payload), allow_pickle=False) as z:
                    meta = json.loads(z["meta"].tobytes().decode("utf-8"))
                index.add([int(t["track_id"]) for t in meta["tracklets"]], source, offset)
            except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
                scan.problem = f"{path} at byte {offset}: unreadable record ({err})"
                scan.skipped_bytes = path.stat().st_size - offset
                break
    return index


class TrackletReader:
    """The indexed tracklets in track id order, decoding each record once while it is cached."""

    def __init__(self, directory: Path, journal: Path, index: TrackIndex) -> None:
        self.paths = (journal, directory / OPEN_NAME)
        self.index = index
        self.order = index.order()
        self._cache: OrderedDict[tuple[int, int], list[Tracklet]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self) -> Iterator[Tracklet]:
        for i in self.order.tolist():
            record = self._record(self.index.sources[i], self.index.offsets[i])
            yield record[self.index.positions[i]]

    def batches(self) -> Iterator[list[Tracklet]]:
        batch: list[Tracklet] = []
        for tracklet in self:
            batch.append(tracklet)
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def _record(self, source: int, offset: int) -> list[Tracklet]:
        key = (source, offset)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        path = self.paths[source]
        with path.open("rb") as f:
            f.seek(offset)
            payload = _read_payload(f, path, offset)
        tracklets = record_table(payload, f"{path} at byte {offset}").tracklets
        self._cache[key] = tracklets
        if len(self._cache) > CACHED_RECORDS:
            self._cache.popitem(last=False)
        return tracklets


def _read_payload(f: IO[bytes], path: Path, offset: int) -> bytes:
    """The payload of the record at the file's position (indexed before, so whole)."""
    head = f.read(HEADER.size)
    _, length, _, _ = HEADER.unpack(head)
    payload = f.read(length)
    if len(payload) != length:
        raise TrackletFileError(f"{path} at byte {offset}: the record changed while being consolidated")
    return payload


def write_result_set(
    directory: Path, stem: str, journal: Path, info: dict[str, Any]
) -> tuple[list[Path], int, RecordScan]:
    """Write ``stem``.{pkl,csv,txt,npz} from the checkpoints; (paths, tracklets, journal scan).

    ``info`` goes into the canonical file, its ``complete`` cleared when part of the journal
    was unreadable.
    """
    for stale in directory.glob(f".{stem}-consolidate-*"):  # a consolidation killed part-way
        shutil.rmtree(stale, ignore_errors=True)
    index = build_index(directory, journal)
    info = {
        **info,
        "complete": bool(info.get("complete")) and not index.scan.problem,
        "checkpoint_records": index.scan.records,
        "skipped_bytes": index.scan.skipped_bytes,
    }
    reader = TrackletReader(directory, journal, index)
    paths = [directory / f"{stem}.{suffix}" for suffix in ("pkl", "csv", "txt", "npz")]
    with (
        storage_errors(directory),  # disk full or read-only: one message naming the folder
        tempfile.TemporaryDirectory(prefix=f".{stem}-consolidate-", dir=directory) as tmp,
    ):
        work = Path(tmp)
        with atomic_write(paths[0]) as f:
            _stream_pickle(f, iter(reader))
        members, runs = _write_members_and_runs(reader, work)
        _write_tables(paths[1], paths[2], runs)
        with atomic_write(paths[3]) as f:
            _write_npz(f, members, work, info)
    return paths, len(reader), index.scan


# --------------------------------------------------------------------------- pickle


class _LazyList:
    """Pickles as a list whose items come from an iterator (``__reduce__``'s list items)."""

    def __init__(self, items: Iterator[Any]) -> None:
        self.items = items

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (), None, self.items)


def _stream_pickle(f: IO[bytes], items: Iterator[Any]) -> None:
    """``pickle.dump(list(items))`` without the list: loads as the same list of tracklets."""
    pickler = pickle.Pickler(f, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True  # no memo: it would keep every pickled tracklet alive
    pickler.dump(_LazyList(items))


# --------------------------------------------------------------------------- canonical npz


@dataclass
class _Member:
    dtype: np.dtype
    trailing: tuple[int, ...]
    rows: int = 0
    sized: bool = False  # trailing shape taken from a batch with rows


def _write_members_and_runs(reader: TrackletReader, work: Path) -> tuple[dict[str, _Member], list[Path]]:
    members: dict[str, _Member] = {}
    runs: list[Path] = []
    rows: list[np.ndarray] = []
    count = 0
    attr_names: list[str] = []  # per-frame attributes in order of first appearance, over all batches
    entries = (work / "meta.entries").open("w", encoding="utf-8")
    with entries:
        for batch in reader.batches():
            arrays = tracklet_arrays(batch)
            meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
            _renumber_frame_attributes(arrays, meta["frame_attributes"], attr_names, count, len(batch))
            for entry in meta["tracklets"]:
                entries.write(("" if count == 0 else ", ") + json.dumps(entry))
                count += 1
            for name, values in arrays.items():  # a backfill goes first into its attribute's member
                _append_member(members, work, name.removesuffix("_backfill"), values)
            rows.append(_table_rows(batch))
            if sum(map(len, rows)) >= RUN_ROWS:
                runs.append(_spill(rows, work, len(runs)))
                rows = []
    if rows:
        runs.append(_spill(rows, work, len(runs)))
    (work / "frame_attributes.json").write_text(json.dumps(attr_names), encoding="utf-8")
    if not members:  # no tracklet at all: the members of an empty file
        for name, values in tracklet_arrays([]).items():
            if name != "meta":
                _append_member(members, work, name, values)
    return members, runs


def _renumber_frame_attributes(
    arrays: dict[str, np.ndarray], batch_names: list[str], names: list[str], before: int, size: int
) -> None:
    """Give a batch's per-frame attribute members the numbers of the whole file.

    A batch numbers its attributes among its own names; the file numbers them in order of first
    appearance. An attribute first seen now is marked absent for the ``before`` tracklets already
    written; one this batch lacks is marked absent for its ``size`` tracklets.
    """
    batch = {
        name: (arrays.pop(f"frame_attr_{j}"), arrays.pop(f"frame_attr_has_{j}"))
        for j, name in enumerate(batch_names)
    }
    for name in batch_names:
        if name not in names:
            names.append(name)
            arrays[f"frame_attr_has_{len(names) - 1}_backfill"] = np.zeros(before, bool)
    for number, name in enumerate(names):
        values, has = batch.get(name, (None, np.zeros(size, bool)))
        if values is not None:
            arrays[f"frame_attr_{number}"] = values
        arrays[f"frame_attr_has_{number}"] = has


def _append_member(members: dict[str, _Member], work: Path, name: str, values: np.ndarray) -> None:
    member = members.setdefault(name, _Member(values.dtype, values.shape[1:]))
    if len(values) == 0:
        return
    if not member.sized:
        member.trailing, member.sized = values.shape[1:], True
    elif values.shape[1:] != member.trailing:
        raise ValueError(
            f"'{name}': rows of shape {values.shape[1:]} after {member.trailing} (mixed dimensions)"
        )
    with (work / f"{name}.bin").open("ab") as f:
        f.write(np.ascontiguousarray(values, member.dtype).tobytes())
    member.rows += len(values)


def _write_npz(f: IO[bytes], members: dict[str, _Member], work: Path, info: dict[str, Any]) -> None:
    """The archive ``np.savez`` would write for these members (stored, not compressed)."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, member in members.items():
            shape = (member.rows, *member.trailing)
            with archive.open(f"{name}.npy", "w", force_zip64=True) as out:
                _npy_header(out, member.dtype, shape)
                if (work / f"{name}.bin").is_file():
                    with (work / f"{name}.bin").open("rb") as data:
                        shutil.copyfileobj(data, out, 1 << 20)
        meta = _meta_bytes(work, info)
        with archive.open("meta.npy", "w", force_zip64=True) as out:
            _npy_header(out, np.dtype(np.uint8), (len(meta),))
            out.write(meta)


def _meta_bytes(work: Path, info: dict[str, Any]) -> bytes:
    """The ``meta`` JSON of the canonical file (the per-tracklet entries are the bulk of it)."""
    head = json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION})[:-1]
    attr_names = json.loads((work / "frame_attributes.json").read_text(encoding="utf-8"))
    tail = json.dumps({"frame_attributes": attr_names, "global_ids": None, "groups": None, "info": info})[1:]
    entries = (work / "meta.entries").read_text(encoding="utf-8")
    return f'{head}, "tracklets": [{entries}], {tail}'.encode()


def _npy_header(out: IO[bytes], dtype: np.dtype, shape: tuple[int, ...]) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_2_0(out, header)


# --------------------------------------------------------------------------- csv / txt


def _table_rows(batch: Sequence[Tracklet]) -> np.ndarray:
    """One row per box with the CSV and MOTChallenge columns (frames 1-based)."""
    n = [len(t) for t in batch]
    texts = {
        k: np.repeat([str(t.attributes.get(k, "")) for t in batch], n) for k in ("color", "type", "plate")
    }
    dtype = [
        ("frame", "i8"),
        ("id", "i8"),
        ("x", "f4"),
        ("y", "f4"),
        ("w", "f4"),
        ("h", "f4"),
        ("conf", "f4"),
        ("speed", "f8"),
        *[(k, v.dtype.str if len(v) else "<U1") for k, v in texts.items()],
    ]
    rows = np.zeros(sum(n), dtype)
    if not len(rows):
        return rows
    boxes = np.concatenate([t.bboxes for t in batch])
    rows["frame"] = np.concatenate([t.frames for t in batch]) + 1
    rows["id"] = np.repeat([t.track_id for t in batch], n)
    for j, name in enumerate("xywh"):
        rows[name] = boxes[:, j]
    rows["conf"] = np.concatenate([t.scores for t in batch])
    rows["speed"] = np.concatenate([t.frame_attributes.get("speed", np.full(len(t), np.nan)) for t in batch])
    for k, values in texts.items():
        rows[k] = values
    return rows


def _key(rows: np.ndarray) -> np.ndarray:
    return (rows["frame"].astype(np.int64) << 32) | (rows["id"].astype(np.int64) & 0xFFFFFFFF)


def _spill(parts: list[np.ndarray], work: Path, number: int) -> Path:
    rows = _concat_rows(parts)
    path = work / f"run{number}.npy"
    np.save(path, rows[np.argsort(_key(rows), kind="stable")])
    return path


def _concat_rows(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Rows of several batches, text columns widened to the widest."""
    names = parts[0].dtype.names or ()
    dtype = [(n, max((p.dtype[n] for p in parts), key=lambda d: d.itemsize)) for n in names]
    return np.concatenate([p.astype(dtype) for p in parts])


def _merged(runs: Sequence[Path]) -> Iterator[np.ndarray]:
    """Blocks of every run's rows in (frame, id) order, at most a block per run in memory."""
    arrays = [np.load(path, mmap_mode="r") for path in runs]
    starts = [0] * len(arrays)
    while any(s < len(a) for s, a in zip(starts, arrays, strict=True)):
        blocks = [a[s : s + MERGE_BLOCK] for s, a in zip(starts, arrays, strict=True)]
        ends = [
            int(_key(b[-1:])[0])
            for b, s, a in zip(blocks, starts, arrays, strict=True)
            if len(b) and s + len(b) < len(a)
        ]
        bound = min(ends) if ends else None
        taken = []
        for i, block in enumerate(blocks):
            keys = _key(block)
            stop = len(block) if bound is None else int(np.searchsorted(keys, bound, side="right"))
            taken.append(np.array(block[:stop]))
            starts[i] += stop
        merged = _concat_rows([t for t in taken if len(t)] or taken)
        yield merged[np.argsort(_key(merged), kind="stable")]


def _write_tables(csv_path: Path, txt_path: Path, runs: Sequence[Path]) -> None:
    import pandas as pd  # as the batch writers

    with (
        atomic_write(csv_path, "w", encoding="utf-8", newline="") as csv,
        atomic_write(txt_path, "w", encoding="utf-8", newline="") as txt,
    ):
        csv.write(",".join(CSV_COLUMNS) + "\n")
        for rows in _merged(runs) if runs else ():
            table = pd.DataFrame({name: rows[name] for name in rows.dtype.names or ()})
            table[CSV_COLUMNS].to_csv(csv, header=False, index=False, na_rep="")
            motchallenge = table[TXT_COLUMNS].copy()
            for column in ("wx", "wy", "wz"):
                motchallenge[column] = -1
            motchallenge.to_csv(txt, header=False, index=False)
