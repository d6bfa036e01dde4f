"""What the live server reports: the JSON of ``/api/tracks`` and ``/api/stats``, and ``/healthz``.

Pure reads of a running session's aggregator and workers, built on each request; the server
only serialises them (``mtmc.live.server``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from mtmc.live.aggregator import LiveMTMCAggregator
from mtmc.live.clock import health
from mtmc.live.worker import LiveMOTWorker


def tracks_payload(cameras: Sequence[tuple[int, str]], aggregator: LiveMTMCAggregator) -> dict[str, Any]:
    """``/api/tracks``: every camera's active tracks with their global ids (``cameras``: index, name)."""
    snapshot = aggregator.snapshot()
    return {
        "cameras": len(cameras),
        "tracks": {
            name: [
                {
                    "id": t.track_id,
                    "global_id": gid,
                    "bbox": [round(v, 1) for v in t.bbox],
                    "frames": t.frames,
                    "first_tick": t.first_tick,
                    "last_tick": t.last_tick,
                }
                for t, gid in snapshot.get(index, [])
            ]
            for index, name in cameras
        },
    }


def stats_payload(
    session_id: str,
    aggregator: LiveMTMCAggregator,
    workers: Sequence[LiveMOTWorker],
    cameras: int,
    uptime: float,
    tick: int,
    stream_clients: int,
) -> dict[str, Any]:
    """``/api/stats``: session totals, clustering rounds and one entry per camera worker."""
    snapshot = aggregator.snapshot()
    gids = {gid for tracks in snapshot.values() for _, gid in tracks if gid is not None}
    return {
        "session_id": session_id,
        "total_tracks": sum(len(t) for t in snapshot.values()),
        "cameras": cameras,
        "global_ids": len(gids),
        "last_cluster": aggregator.last_cluster,
        "cluster_rounds": aggregator.rounds,
        "uptime": round(uptime, 1),
        "tick": tick,
        "stream_clients": stream_clients,
        "per_camera": [camera_stats(w) for w in workers],
    }


def camera_stats(worker: LiveMOTWorker) -> dict[str, Any]:
    """One camera's entry of ``/api/stats``: rates, counts, state of its source."""
    stats = worker.stats
    return {
        "name": worker.camera,
        "fps": round(stats.fps, 2),
        "frame_seconds": round(stats.frame_seconds, 4),
        "frames": stats.frames,
        "saved_tracklets": stats.saved,
        "finished_tracklets": stats.saved + worker.finished_unsaved,
        "checkpoints": stats.checkpoints,
        "skipped_ticks": stats.skipped,
        "held_back_ticks": stats.held_back,
        "tracks": stats.tracks,
        "running": worker.is_alive(),
        "error": stats.error,
        "stalled": stats.stalled,
        "stalls": stats.stalls,
        "source": worker.source.state,
        "decode_errors": worker.source.decode_errors,
    }


def session_health(
    workers: Sequence[LiveMOTWorker], started: float, stall_seconds: float
) -> tuple[bool, str]:
    """``/healthz``: (healthy, message); a camera whose file ended is no fault, one that failed is.

    ``started`` is the session's ``time.monotonic()`` start (cameras with no frame yet count from it).
    """
    ended = {w.camera for w in workers if w.ident and not w.is_alive() and not w.stats.error}
    last = {w.camera: w.stats.last_frame_at for w in workers if w.camera not in ended}
    failed = {w.camera: w.stats.error for w in workers if w.stats.error}
    return health(last, started, time.monotonic(), stall_seconds, failed)
