"""LiveRun: a live session's server, clock, aggregator and camera workers, started and stopped together.

Built from the validated config: the HTTP server first (a port in use fails before the models
load), then one ``LiveMOTWorker`` per camera of EXPRESS.CAMERAS (ByteTrack, the shared models,
a tracklet builder and its ``live.journal``), and the session's ``live_session.json`` and
``live_layout.txt``. ``run`` clusters every LIVE.CLUSTER_INTERVAL until LIVE.DURATION or the
stop event; ``shutdown`` stops the workers and the server, then saves every camera it can
(``mtmc.live.session``). Signals are handled around it (``mtmc.live.signals``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from yacs.config import CfgNode

from config.layout import parse_layout
from config.paths import StorageError, atomic_write_text
from mot.builder import TrackletBuilder
from mot.camera_setup import detection_schedule, detection_selector, tracker_params
from mot.enrich import Enricher
from mot.factory import build_tracker
from mot.manifest import new_run_id
from mot.model_cache import ModelCache, model_cache
from mot.schedule import DetectionSchedule
from mtmc.express import CameraJob, camera_jobs, matching_options
from mtmc.live.aggregator import LiveMTMCAggregator
from mtmc.live.capture import LiveSource
from mtmc.live.clock import DetectionSlots, VirtualClock, detection_slots
from mtmc.live.frame_hub import FrameHub
from mtmc.live.journal import JOURNAL_NAME, Journal
from mtmc.live.server import LiveServer
from mtmc.live.session import SessionCamera, consolidate, finish_session, layout_text, write_session
from mtmc.live.stats import session_health, stats_payload, tracks_payload
from mtmc.live.worker import LiveMOTWorker

log = logging.getLogger(__name__)

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
        schedules, shared, self.slots = detection_plan(self.jobs, self.fps)
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
            self._close_unstarted()
            raise

    def _close_unstarted(self) -> None:
        """Release what a session that failed to start opened: sources, journals, the listening socket."""
        for worker in self.workers:
            worker.source.close()
            if worker.journal is not None:
                worker.journal.close()
        self.server.stop()

    def _worker(
        self, job: CameraJob, models: ModelCache, schedule: DetectionSchedule, slots: DetectionSlots | None
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

    # ------------------------------------------------------------------ what the server reports

    def health(self) -> tuple[bool, str]:
        """``/healthz``: every camera delivering new frames (``mtmc.live.stats``)."""
        return session_health(self.workers, self.started_monotonic, self.cfg.LIVE.STALL_SECONDS)

    def tracks_json(self) -> dict[str, Any]:
        """``/api/tracks``: the active tracks of every camera with their global ids."""
        return tracks_payload([(job.index, job.name) for job in self.jobs], self.aggregator)

    def stats_json(self) -> dict[str, Any]:
        """``/api/stats``: session totals and one entry per camera."""
        return stats_payload(
            self.session_id,
            self.aggregator,
            self.workers,
            cameras=len(self.jobs),
            uptime=time.time() - self.started,
            tick=self.clock.current_tick(),
            stream_clients=self.server.streaming,
        )

    # ------------------------------------------------------------------ lifecycle

    def run(self, stop: threading.Event) -> None:
        """Serve and track until LIVE.DURATION, ``stop`` or every worker ended; cluster every
        LIVE.CLUSTER_INTERVAL and write ``live_ids.json``. ``shutdown`` saves afterwards."""
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
        """``live_ids.json``: every camera's local -> global ids of the last clustering round."""
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


def detection_plan(
    jobs: Sequence[CameraJob], fps: float
) -> tuple[list[DetectionSchedule], list[bool], DetectionSlots | None]:
    """Each camera's detection schedule in ticks, whether it shares the per-tick detection cap
    (it skips ticks and MOT.DETECTION_STAGGER is on), and that shared cap (None: no cap)."""
    schedules = [detection_schedule(job.cfg.MOT, fps, job.index) for job in jobs]
    shared = [
        bool(s.spec.skips and j.cfg.MOT.DETECTION_STAGGER) for j, s in zip(jobs, schedules, strict=True)
    ]
    slots = detection_slots([s.spec.interval for s, x in zip(schedules, shared, strict=True) if x])
    return schedules, shared, slots


def _as_bytetrack(mot: CfgNode) -> CfgNode:
    """Live mode tracks with ByteTrack (DeepSORT would embed every box every tick)."""
    if mot.TRACKER != "bytetrack_iou":
        log.warning("live mode tracks with ByteTrack; MOT.TRACKER %s is used in batch runs only", mot.TRACKER)
    view = mot.clone()
    view.defrost()
    view.TRACKER = "bytetrack_iou"
    return view
