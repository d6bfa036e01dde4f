"""Live multi-camera tracking: synchronised camera workers, global ids every few seconds, MJPEG view.

python mtmc/run_live_mtmc.py --config config/examples/live_demo.yaml [KEY VALUE ...]

Cameras are EXPRESS.CAMERAS (files loop with LIVE.LOOP_VIDEO; rtsp:// and http:// streams are
read live, each in its own capture process; one that is down at start-up joins when it comes
up). Open http://LIVE.BIND_ADDRESS:LIVE.MJPEG_PORT/ for the streams (add ?token=... when
LIVE.ACCESS_TOKEN is set; a non-loopback LIVE.BIND_ADDRESS needs one); /api/tracks and
/api/stats give JSON, /healthz fails (503, naming the cameras) while any camera delivered no new
frame for LIVE.STALL_SECONDS (it is then stalled: not tracked, its tracks end).
Finished tracklets are checkpointed to ``{i}_{name}/live.journal`` every LIVE.CHECKPOINT_SECONDS
and leave memory (``mtmc.live.journal``). Ctrl-C, SIGTERM or SIGHUP (or LIVE.DURATION) stops
everything within about two seconds (a camera inside a slow frame gets up to FINISH_WITHIN more)
and consolidates the journals into the result set: per camera
``{i}_{name}/live.{npz,csv,txt,pkl}`` + ``live.manifest.json`` (frames are ticks at
LIVE.TARGET_FPS), ``live_layout.txt`` (the layout at the tick rate, to re-cluster the session
offline with mtmc/run_mtmc.py) and ``live_ids.json`` (the global ids of the last round). A
second signal during that save is ignored; a third quits at once (``config.interrupts``).
The folder is OUTPUT_DIR, or ``OUTPUT_DIR/session_<id>`` when OUTPUT_DIR holds an earlier
session; a session killed without saving is consolidated by the next start
(``mtmc.live.session``). Exit code 0 after LIVE.DURATION, 128 + signal after a stop signal.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

from yacs.config import CfgNode

from config.cli import run_cli
from config.interrupts import StopSignals, signal_name, stop_exit_code
from config.layout import parse_layout
from config.paths import StorageError, atomic_write_text
from detection.video import VideoSourceError, probe_video
from mot.builder import TrackletBuilder
from mot.camera_setup import detection_schedule, detection_selector, tracker_params
from mot.enrich import Enricher
from mot.factory import build_tracker
from mot.manifest import new_run_id
from mot.model_cache import ModelCache, model_cache
from mot.plan import save_plan
from mot.schedule import DetectionSchedule
from mtmc.express import camera_jobs, matching_options
from mtmc.live.access import exposure_problem
from mtmc.live.aggregator import LiveMTMCAggregator
from mtmc.live.capture import LiveSource, is_stream
from mtmc.live.clock import DetectionSlots, VirtualClock, detection_slots, health
from mtmc.live.journal import JOURNAL_NAME, Journal
from mtmc.live.server import FrameHub, LiveServer, ServerStartError
from mtmc.live.session import (
    SessionCamera,
    consolidate,
    finish_session,
    layout_text,
    recover,
    session_folder,
    write_session,
)
from mtmc.live.worker import LiveMOTWorker

log = logging.getLogger("mtmc.live")

STOP_WITHIN = 1.5  # seconds the workers get to stop (between two frames they stop at once)
FINISH_WITHIN = 20.0  # more seconds for a worker still inside a frame (a loaded machine)


class LiveRun:
    """Everything a live session owns, started and stopped together."""

    def __init__(self, cfg: CfgNode, models: ModelCache | None = None, session_id: str = "") -> None:
        """``models``: the cache the start-up checks loaded the models into (else a new one).
        The session writes into OUTPUT_DIR (``run`` picks a fresh one) under ``session_id``."""
        live = cfg.LIVE
        self.cfg, self.fps = cfg, float(live.TARGET_FPS)
        self.session_id, self.folder = session_id or new_run_id(), Path(cfg.OUTPUT_DIR)
        self.saved = False  # every camera's result set was written by ``shutdown``
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
        self.cameras = [
            SessionCamera(job.name, job.output_dir.name, str(job.cfg.MOT.VIDEO), self.fps)
            for job in self.jobs
        ]
        self.workers: list[LiveMOTWorker] = []
        schedules = [detection_schedule(job.cfg.MOT, self.fps, job.index) for job in self.jobs]  # ticks
        shared = [
            s.spec.skips and j.cfg.MOT.DETECTION_STAGGER for j, s in zip(self.jobs, schedules, strict=True)
        ]
        self.slots = detection_slots([s.spec.interval for s, x in zip(schedules, shared, strict=True) if x])
        try:
            self.workers = [
                self._worker(job, models, schedule, self.slots if share else None)
                for job, schedule, share in zip(self.jobs, schedules, shared, strict=True)
            ]
            write_session(self.folder, self.session_id, self.cameras, "running")
            atomic_write_text(
                self.folder / "live_layout.txt", layout_text(self.layout, self.fps, self.session_id)
            )
        except BaseException:
            for worker in self.workers:
                worker.source.close()
                if worker.journal is not None:
                    worker.journal.close()
            self.server.stop()
            raise

    def _worker(
        self, job: Any, models: ModelCache, schedule: DetectionSchedule, slots: DetectionSlots | None
    ) -> LiveMOTWorker:
        mot = job.cfg.MOT
        source = LiveSource(mot.VIDEO, self.fps, self.cfg.LIVE.LOOP_VIDEO)
        tracker = build_tracker("bytetrack_iou", tracker_params(_as_bytetrack(mot)), frame_rate=self.fps)
        embedder = models.embedder(mot)
        assert embedder is not None, "validated: live matching needs MOT.REID_BACKEND other than 'none'"
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
            Journal(job.output_dir / JOURNAL_NAME, self.session_id, job.name),
            self.cfg.LIVE.CHECKPOINT_SECONDS,
            self.cfg.LIVE.STALL_SECONDS,
            schedule,
            slots,
        )

    # ------------------------------------------------------------------ API payloads

    def health(self) -> tuple[bool, str]:
        ended = {w.camera for w in self.workers if w.ident and not w.is_alive() and not w.stats.error}
        last = {w.camera: w.stats.last_frame_at for w in self.workers if w.camera not in ended}
        failed = {w.camera: w.stats.error for w in self.workers if w.stats.error}
        now, stall = time.monotonic(), self.cfg.LIVE.STALL_SECONDS
        return health(last, self.started_monotonic, now, stall, failed)  # a file that ended is no fault

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
            "session_id": self.session_id,
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
                    "frame_seconds": round(w.stats.frame_seconds, 4),
                    "frames": w.stats.frames,
                    "saved_tracklets": w.stats.saved,
                    "finished_tracklets": w.stats.saved + w.finished_unsaved,
                    "checkpoints": w.stats.checkpoints,
                    "skipped_ticks": w.stats.skipped,
                    "held_back_ticks": w.stats.held_back,
                    "tracks": w.stats.tracks,
                    "running": w.is_alive(),
                    "error": w.stats.error,
                    "stalled": w.stats.stalled,
                    "stalls": w.stats.stalls,
                    "source": w.source.state,
                    "decode_errors": w.source.decode_errors,
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
                self._write_ids()
                next_round = time.monotonic() + self.cfg.LIVE.CLUSTER_INTERVAL

    def unsaved(self) -> str:
        """What a forced quit would lose now (the journals on disk stay)."""
        open_tracks = sum(w.unsaved_tracks for w in self.workers)
        saved = sum(w.stats.saved for w in self.workers)
        return (
            f"{open_tracks} tracks not checkpointed yet (open ones lose what they gained since their last "
            f"snapshot; {saved} tracklets already in the journals and the open tracks' snapshots stay; "
            f"the next start saves them)"
        )

    def _write_ids(self) -> None:
        ids = {
            job.name: {str(k): v for k, v in self.aggregator.local_to_global(job.index).items()}
            for job in self.jobs
        }
        record = {"session_id": self.session_id, "global_ids": ids}
        atomic_write_text(self.folder / "live_ids.json", json.dumps(record, indent=2) + "\n")

    def shutdown(self) -> list[Path]:
        """Stop workers and server, then save what was gathered; returns the files written.

        Each camera's last tracks go into its journal, which is then consolidated into its
        result set; a camera that fails to save does not stop the others (its journal stays,
        and the next start consolidates it).
        """
        self.clock.stop()
        self._join_workers()
        self.server.stop()
        written: list[Path] = []
        saved_all = True
        for camera, worker in zip(self.cameras, self.workers, strict=True):
            try:
                written += self._save_camera(camera, worker)
            except StorageError as err:  # disk full or read-only: one line naming the path
                saved_all = False
                log.error("camera '%s': %s", camera.name, err)
            except OSError as err:
                saved_all = False
                log.error("camera '%s': cannot save (%s: %s)", camera.name, err.strerror or err, err.filename)
            except ValueError as err:  # a damaged journal (TrackletFileError) or an unusable value
                saved_all = False
                log.error("camera '%s': cannot save (%s)", camera.name, err)
        self._write_ids()
        self.saved = saved_all
        if saved_all:
            finish_session(self.folder, self.session_id, self.cameras)
        return [*written, self.folder / "live_layout.txt", self.folder / "live_ids.json"]

    def _save_camera(self, camera: SessionCamera, worker: LiveMOTWorker) -> list[Path]:
        """Append the camera's last tracks to its journal and consolidate it into the result set."""
        stuck = worker.is_alive()
        if stuck:
            log.warning("camera '%s' did not stop in time; saving its checkpoints only", camera.name)
        else:
            last = worker.finish()
            assert worker.journal is not None  # every session worker has one
            worker.journal.append(last)
            worker.journal.write_open([])  # every track is finished now: no snapshot left
            worker.journal.close()
        extra = {"stalls": worker.stats.stalls, "decode_errors": worker.source.decode_errors}
        return consolidate(self.folder, self.session_id, camera, complete=not stuck, extra=extra)

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
        if is_stream(job.cfg.MOT.VIDEO):
            continue  # a network camera down now joins when it comes up (the others do not wait for it)
        try:
            probe_video(job.cfg.MOT.VIDEO)
        except VideoSourceError as err:
            log.error("camera '%s': %s", job.name, err)
            return 2
    models = model_cache(cfg)
    if problems := live_model_problems(cfg, models):
        log.error("cannot start:\n  %s", "\n  ".join(problems))
        return 2
    out, session_id = Path(cfg.OUTPUT_DIR), new_run_id()
    if args.dry_run:
        folder = session_folder(out, session_id)
        if folder == out:
            save_plan(out, _redacted(cfg), _plan(cfg, session_id))
        log.info("dry run: configuration, models and sources are valid; stopping before the live run")
        return 0
    recover(out)  # a session killed without saving is consolidated before a new one starts
    cfg = _in_folder(cfg, session_folder(out, session_id))
    save_plan(Path(cfg.OUTPUT_DIR), _redacted(cfg), _plan(cfg, session_id))
    try:
        session = LiveRun(cfg, models, session_id)
    except ServerStartError as err:
        log.error("%s", err)
        return 2
    return run_session(session, args.signals)


def run_session(session: LiveRun, signals: StopSignals) -> int:
    """Run until LIVE.DURATION or a stop signal, then save; a second signal does not stop the save."""
    stop = threading.Event()

    def on_stop(signum: int) -> None:
        log.info(
            "%s: stopping; saving the session (a second signal is ignored until it is saved)",
            signal_name(signum),
        )
        stop.set()

    signals.on_stop, signals.losing = on_stop, session.unsaved
    try:
        session.run(stop)
    finally:
        signals.begin_shutdown()
        start = time.monotonic()
        written = session.shutdown()
        log.info(
            "session %s stopped in %.1f s; %s",
            session.session_id,
            time.monotonic() - start,
            _saved_text(session, written),
        )
    if not session.saved:
        log.error("not every camera was saved; their checkpoints stay and the next start saves them")
        return 1
    return stop_exit_code(signals.signum) if signals.signum is not None else 0


def _saved_text(session: LiveRun, written: list[Path]) -> str:
    tracklets = [f for f in written if f.suffix == ".npz"]
    if not tracklets:
        return f"nothing was tracked yet; wrote {session.folder / 'live_ids.json'}"
    return f"saved {', '.join(str(f) for f in tracklets)} and {len(written) - len(tracklets)} more files"


def _plan(cfg: CfgNode, session_id: str) -> dict[str, Any]:
    return {"command": "live", "session_id": session_id, "cameras": [j.name for j in camera_jobs(cfg)]}


def _in_folder(cfg: CfgNode, folder: Path) -> CfgNode:
    """The config with OUTPUT_DIR set to the session's folder."""
    if Path(cfg.OUTPUT_DIR) == folder:
        return cfg
    view = cfg.clone()
    view.defrost()
    view.OUTPUT_DIR = str(folder)
    view.freeze()
    return view


def main(argv: list[str] | None = None) -> int:
    return run_cli("Live multi-camera tracking with MJPEG streams and a JSON API.", "live", run, argv)


if __name__ == "__main__":
    sys.exit(main())
