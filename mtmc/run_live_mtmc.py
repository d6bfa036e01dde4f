"""Live multi-camera tracking: synchronised camera workers, global ids every few seconds, MJPEG view.

python mtmc/run_live_mtmc.py --config config/examples/live_demo.yaml [KEY VALUE ...]

Cameras are EXPRESS.CAMERAS (files loop with LIVE.LOOP_VIDEO; rtsp:// and http:// streams are
read live). Open http://LIVE.BIND_ADDRESS:LIVE.MJPEG_PORT/ for the streams (add ?token=... when
LIVE.ACCESS_TOKEN is set; a non-loopback LIVE.BIND_ADDRESS needs one); /api/tracks and
/api/stats give JSON, /healthz fails (503) once no camera produced a frame for LIVE.STALL_SECONDS.
Ctrl-C or SIGTERM (or LIVE.DURATION) stops everything within about two seconds (a camera inside a
slow frame gets up to FINISH_WITHIN more) and writes what was gathered: per camera
``OUTPUT_DIR/{i}_{name}/live.{npz,csv,txt,pkl}`` (frames are ticks at LIVE.TARGET_FPS),
``OUTPUT_DIR/live_layout.txt`` (the layout at the tick rate, to re-cluster the session offline
with mtmc/run_mtmc.py) and ``OUTPUT_DIR/live_ids.json`` (the global ids of the last round).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from yacs.config import CfgNode

from config.cli import run_cli
from config.layout import CameraLayout, parse_layout
from config.paths import atomic_write_text
from detection.video import VideoSourceError, probe_video
from mot.builder import TrackletBuilder
from mot.camera import ModelCache, detection_schedule, detection_selector, model_cache, tracker_params
from mot.enrich import Enricher
from mot.factory import build_tracker
from mot.plan import save_plan
from mot.storage import save_all
from mtmc.express import camera_jobs, matching_options
from mtmc.live.aggregator import LiveMTMCAggregator
from mtmc.live.clock import VirtualClock, health
from mtmc.live.server import FrameHub, LiveServer, ServerStartError, exposure_problem
from mtmc.live.worker import LiveMOTWorker, LiveSource

log = logging.getLogger("mtmc.live")

STOP_WITHIN = 1.5  # seconds the workers get to stop (between two frames they stop at once)
FINISH_WITHIN = 20.0  # more seconds for a worker still inside a frame (a loaded machine)


def layout_text(layout: CameraLayout, fps: float) -> str:
    """The layout in the line format, every camera at the tick rate (for offline re-clustering)."""
    lines = ["# written by the live run: frames of its tracklets are ticks at LIVE.TARGET_FPS"]
    for a in range(layout.n_cams):
        for b in range(layout.n_cams):
            if layout.allowed[a, b]:
                lines.append(f"{a} {b} {layout.min_gap[a, b]:g} {layout.max_gap[a, b]:g}")
    lines.append("fps " + " ".join(f"{fps:g}" for _ in range(layout.n_cams)))
    lines.append("offset " + " ".join(f"{o:g}" for o in layout.offset))
    return "\n".join(lines) + "\n"


class LiveRun:
    """Everything a live session owns, started and stopped together."""

    def __init__(self, cfg: CfgNode, models: ModelCache | None = None) -> None:
        """``models``: the cache the start-up checks loaded the models into (else a new one)."""
        live = cfg.LIVE
        self.cfg, self.fps = cfg, float(live.TARGET_FPS)
        self.jobs = camera_jobs(cfg)
        names = [job.name for job in self.jobs]
        self.layout = parse_layout(cfg.MTMC.CAMERA_LAYOUT, names)
        self.clock = VirtualClock(self.fps, live.MAX_SKEW_TICKS, live.STALL_SECONDS)
        self.aggregator = LiveMTMCAggregator(
            self.layout,
            self.fps,
            live.MIN_TRACK_FRAMES,
            live.MAX_INACTIVE_SECS,
            live.SIMILARITY_THRESHOLD,
            live.GLOBAL_FEATURE_EMA,
            matching_options(cfg),
        )
        self.hub = FrameHub(names)
        self.started, self.started_monotonic = time.time(), time.monotonic()
        self.server = LiveServer(  # first: a port in use fails before the models load
            self.hub,
            self.tracks_json,
            self.stats_json,
            live.BIND_ADDRESS,
            live.MJPEG_PORT,
            live.MAX_STREAM_CLIENTS,
            health=self.health,
            token=live.ACCESS_TOKEN,
            request_timeout=live.REQUEST_TIMEOUT,
        )
        models = models if models is not None else model_cache(cfg)
        self.workers: list[LiveMOTWorker] = []
        try:
            self.workers = [self._worker(job, models) for job in self.jobs]
        except BaseException:
            self.server.stop()
            raise

    def _worker(self, job: Any, models: ModelCache) -> LiveMOTWorker:
        mot = job.cfg.MOT
        source = LiveSource(mot.VIDEO, self.fps, self.cfg.LIVE.LOOP_VIDEO)
        tracker = build_tracker("bytetrack_iou", tracker_params(_as_bytetrack(mot)), frame_rate=self.fps)
        embedder = models.embedder(mot)
        assert embedder is not None, "validated: live matching needs MOT.REID_BACKEND other than 'none'"
        schedule = detection_schedule(mot, self.fps, job.index)  # ticks are the frames
        builder = TrackletBuilder(
            job.index,
            mot.MIN_FRAMES,
            mot.REID_SAMPLES_PER_TRACK,
            enricher=Enricher(),
            interpolate=False,  # live: what was shown, predictions included
            box_sources=schedule.spec.skips,
        )
        return LiveMOTWorker(
            job.index,
            job.name,
            source,
            self.clock,
            self.aggregator,
            self.hub,
            models.detector(mot),
            detection_selector(mot, source.info),
            embedder.embed_crops,
            tracker,
            builder,
            self.cfg.LIVE.SLEEP_ON_EMPTY,
            mot.REID_SAMPLES_PER_TRACK,
            schedule,
        )

    # ------------------------------------------------------------------ API payloads

    def health(self) -> tuple[bool, str]:
        last = {w.camera: w.stats.last_frame_at for w in self.workers}
        return health(last, self.started_monotonic, time.monotonic(), self.cfg.LIVE.STALL_SECONDS)

    def tracks_json(self) -> dict[str, Any]:
        snapshot = self.aggregator.snapshot()
        return {
            "cameras": len(self.jobs),
            "tracks": {
                job.name: [
                    {
                        "id": t.track_id,
                        "global_id": gid,
                        "bbox": [round(v, 1) for v in t.bbox],
                        "frames": t.frames,
                        "first_tick": t.first_tick,
                        "last_tick": t.last_tick,
                    }
                    for t, gid in snapshot.get(job.index, [])
                ]
                for job in self.jobs
            },
        }

    def stats_json(self) -> dict[str, Any]:
        snapshot = self.aggregator.snapshot()
        gids = {gid for tracks in snapshot.values() for _, gid in tracks if gid is not None}
        return {
            "total_tracks": sum(len(t) for t in snapshot.values()),
            "cameras": len(self.jobs),
            "global_ids": len(gids),
            "last_cluster": self.aggregator.last_cluster,
            "cluster_rounds": self.aggregator.rounds,
            "uptime": round(time.time() - self.started, 1),
            "tick": self.clock.current_tick(),
            "stream_clients": self.server.streaming,
            "per_camera": [
                {
                    "name": w.camera,
                    "fps": round(w.stats.fps, 2),
                    "frames": w.stats.frames,
                    "skipped_ticks": w.stats.skipped,
                    "tracks": w.stats.tracks,
                    "running": w.is_alive(),
                    "error": w.stats.error,
                }
                for w in self.workers
            ],
        }

    # ------------------------------------------------------------------ lifecycle

    def run(self, stop: threading.Event) -> None:
        self.started_monotonic = time.monotonic()
        self.server.start()
        for worker in self.workers:
            worker.start()
        duration = self.cfg.LIVE.DURATION
        next_round = time.monotonic() + self.cfg.LIVE.CLUSTER_INTERVAL
        end = time.monotonic() + duration if duration > 0 else None
        while not stop.is_set() and any(w.is_alive() for w in self.workers):
            now = time.monotonic()
            if end is not None and now >= end:
                break
            wake = min(next_round, end) if end is not None else next_round
            if stop.wait(max(0.0, wake - now)):
                break
            if time.monotonic() >= next_round:
                self.aggregator.cluster()
                next_round = time.monotonic() + self.cfg.LIVE.CLUSTER_INTERVAL

    def shutdown(self) -> list[Path]:
        """Stop workers and server, then write what was gathered; returns the files written."""
        self.clock.stop()
        self._join_workers()
        self.server.stop()
        out = Path(self.cfg.OUTPUT_DIR)
        written = []
        ids: dict[str, dict[str, int]] = {}
        for job, worker in zip(self.jobs, self.workers, strict=True):
            if worker.is_alive():
                log.warning("camera '%s' did not stop in time; its tracks are not saved", job.name)
                continue
            tracklets = worker.finish()
            info = {
                "camera": job.name,
                "video": job.cfg.MOT.VIDEO,
                "fps": self.fps,
                "live": True,
                "complete": True,
            }
            written += save_all(job.output_dir, "live", tracklets, info=info)
            ids[job.name] = {str(k): v for k, v in self.aggregator.local_to_global(job.index).items()}
        atomic_write_text(out / "live_layout.txt", layout_text(self.layout, self.fps))
        atomic_write_text(out / "live_ids.json", json.dumps(ids, indent=2) + "\n")
        return [*written, out / "live_layout.txt", out / "live_ids.json"]

    def _join_workers(self) -> None:
        """Wait for the workers; one inside a slow frame gets FINISH_WITHIN more to save its tracks."""
        deadline = time.monotonic() + STOP_WITHIN
        for worker in self.workers:
            if worker.ident is not None:  # a session stopped before it ran has nothing to wait for
                worker.join(timeout=max(0.0, deadline - time.monotonic()))
        slow = [w for w in self.workers if w.is_alive()]
        if not slow:
            return
        log.info(
            "waiting up to %.0f s for %s to finish a frame", FINISH_WITHIN, ", ".join(w.camera for w in slow)
        )
        deadline = time.monotonic() + FINISH_WITHIN
        for worker in slow:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))


def _as_bytetrack(mot: CfgNode) -> CfgNode:
    """Live mode tracks with ByteTrack (DeepSORT would embed every box every tick)."""
    if mot.TRACKER != "bytetrack_iou":
        log.warning("live mode tracks with ByteTrack; MOT.TRACKER %s is used in batch runs only", mot.TRACKER)
    view = mot.clone()
    view.defrost()
    view.TRACKER = "bytetrack_iou"
    return view


def _redacted(cfg: CfgNode) -> CfgNode:
    """The config as saved with the run: the access token is not written to OUTPUT_DIR."""
    if not cfg.LIVE.ACCESS_TOKEN:
        return cfg
    view = cfg.clone()
    view.defrost()
    view.LIVE.ACCESS_TOKEN = "<redacted>"
    return view


def live_model_problems(cfg: CfgNode, models: ModelCache) -> list[str]:
    """Load and check every camera's detector and ReID model against its config (mot.model_checks);
    the workers then take them from ``models`` instead of loading them again."""
    from mot.model_checks import model_problems

    return [f"camera '{j.name}': {p}" for j in camera_jobs(cfg) for p in model_problems(j.cfg.MOT, models)]


def run(cfg: CfgNode, args: argparse.Namespace) -> int:
    if problem := exposure_problem(cfg.LIVE.BIND_ADDRESS, cfg.LIVE.ACCESS_TOKEN):
        log.error("%s", problem)
        return 2
    for job in camera_jobs(cfg):
        try:
            probe_video(job.cfg.MOT.VIDEO)
        except VideoSourceError as err:
            log.error("camera '%s': %s", job.name, err)
            return 2
    models = model_cache(cfg)
    if problems := live_model_problems(cfg, models):
        log.error("cannot start:\n  %s", "\n  ".join(problems))
        return 2
    save_plan(
        Path(cfg.OUTPUT_DIR),
        _redacted(cfg),
        {"command": "live", "cameras": [j.name for j in camera_jobs(cfg)]},
    )
    if args.dry_run:
        log.info("dry run: configuration, models and sources are valid; stopping before the live run")
        return 0
    try:
        session = LiveRun(cfg, models)
    except ServerStartError as err:
        log.error("%s", err)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        session.run(stop)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        start = time.monotonic()
        written = session.shutdown()
        log.info(
            "stopped in %.1f s; wrote %s and %d more files",
            time.monotonic() - start,
            written[-1],
            len(written) - 1,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli("Live multi-camera tracking with MJPEG streams and a JSON API.", "live", run, argv)


if __name__ == "__main__":
    sys.exit(main())
