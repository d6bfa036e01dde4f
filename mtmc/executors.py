"""Run the per-camera MOT stage of an express run: in this process, in a process pool, or on Ray.

``EXPRESS.EXECUTOR``:

* ``sequential``: one camera after another, models shared by every camera;
* ``batched``: every camera in this process at once, frame k of each camera detected in one
  batch with the others' (``mot.camera.run_cameras_batched``; a real batch with models of a
  dynamic batch dimension, OpenVINO models are reshaped to one; ONNX models of batch 1 loop),
  trackers per camera; if the batched run fails, the cameras are tracked one by one;
* ``processes`` (``auto`` with several cameras): a pool of ``EXPRESS.WORKERS`` processes (one per
  core, at most one per camera), each loading the models once and tracking whole cameras with
  ``EXPRESS.THREADS_PER_WORKER`` inference threads, so that workers x threads <= cores;
* ``ray``: one Ray task per camera on ``EXPRESS.RAY_ADDRESS`` (a local instance when empty),
  each asking for ``EXPRESS.RAY_NUM_CPUS`` CPUs (its inference threads) and
  ``EXPRESS.RAY_NUM_GPUS`` GPUs; model files are resolved on the worker by the usual model
  search. Results: each task writes its camera's outputs into ``OUTPUT_DIR/{i}_{name}/`` (on a
  cluster, put OUTPUT_DIR on storage every node mounts at the same path) *and* returns the
  canonical ``mot.npz`` bytes; the driver writes them (and the csv/txt/pkl exports) when the
  file is not on its own disk, so a cluster without shared storage still works.

Whatever the executor, the driver loads every camera's tracklets from its canonical file, so
the clustering sees exactly the same input: inference on the CPU is deterministic (ONNX
Runtime gives bit-identical outputs whatever the thread count, checked by the tests), and the
three executors give identical tracklets and global ids.

A failed camera is tried again ``EXPRESS.RETRIES`` times (not when its ReID model is what
failed: that fails again); then the run finishes the other cameras and reports the failure.

Pool workers live no longer than their driver (``config.interrupts.die_with_driver``): when
the driver dies, even by SIGKILL, each worker saves what it tracked (marked incomplete) and
exits, releasing the driver's stderr. When the driver is interrupted (SIGINT or SIGTERM to
it alone), it sends SIGTERM to its workers, waits for them to save, and re-raises, so the
run stops in seconds instead of after the workers' whole videos. On Ray the driver keeps its
own stop handlers (``ray.init`` replaces SIGTERM's), cancels the running tasks (each saves what
it tracked, marked incomplete) and waits up to ``STOP_GRACE`` for them; the tasks' log lines
(progress, warnings) are forwarded to the driver's stderr.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yacs.config import CfgNode

from config.interrupts import STOP_SIGNALS, die_with_driver, driver_alive, saving
from config.paths import StorageError
from mot.camera import run_cameras_batched
from mot.manifest import remove_manifest, write_manifest
from mot.model_cache import FeatureExtractionError, ModelCache, model_cache
from mot.result_set import RESULT_STEM, completed_result
from mot.storage import save_all
from mot.tracklet import Tracklet
from mot.tracklet_file import load_tracklet_file
from mot.video_output import ensure_video
from mtmc.express import CameraJob, track_camera

log = logging.getLogger(__name__)

STOP_GRACE = 30.0  # seconds interrupted workers get to save what they tracked


@dataclass
class CameraOutcome:
    """How one camera went."""

    index: int
    name: str
    tracklets: list[Tracklet] = field(default_factory=list)
    error: str = ""
    attempts: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error


def executor_kind(cfg: CfgNode, cameras: int) -> str:
    kind = cfg.EXPRESS.EXECUTOR
    if kind == "auto":
        return "processes" if cameras > 1 else "sequential"
    return kind


def pool_size(cfg: CfgNode, cameras: int) -> tuple[int, int]:
    """(workers, inference threads per worker) for the process pool."""
    cores = os.cpu_count() or 1
    workers = cfg.EXPRESS.WORKERS or max(1, min(cameras, cores))
    threads = cfg.EXPRESS.THREADS_PER_WORKER or max(1, cores // workers)
    return workers, threads


def run_cameras(cfg: CfgNode, jobs: Sequence[CameraJob], progress: bool = True) -> list[CameraOutcome]:
    """Track every camera with the configured executor; outcomes in camera order."""
    kind = executor_kind(cfg, len(jobs))
    log.info("tracking %d cameras with the %s executor", len(jobs), kind)
    if kind == "processes":
        return _run_processes(cfg, jobs, progress)
    if kind == "ray":
        return _run_ray(cfg, jobs)
    models = model_cache(cfg)
    full: Path | None = None  # a camera folder whose disk refused the batched run's results
    if kind == "batched":
        try:
            if _run_batched(jobs, models, progress):
                return [_load(job, CameraOutcome(job.index, job.name, attempts=1)) for job in jobs]
        except StorageError as err:
            full = Path(err.filename).parent if err.filename else None
    # one by one (also after a failed batched run: saved cameras are reused, a full disk is not retried)
    return [
        _storage_failure(job, full)
        if job.output_dir == full
        else _with_retries(job, cfg.EXPRESS.RETRIES, lambda job=job: _track(job, models, job.index, progress))
        for job in jobs
    ]


def _run_batched(jobs: Sequence[CameraJob], models: ModelCache, progress: bool) -> bool:
    """Track the cameras without complete earlier results in one batched loop; False if it failed."""
    try:
        todo = []
        for job in jobs:
            previous = completed_result(job.output_dir, job.cfg.MOT)
            if previous is None:
                todo.append(job)
            else:  # reused as track_camera reuses it, its missing mot.mp4 written
                ensure_video(job.output_dir, job.cfg.MOT, previous, progress)
        cameras = [(j.cfg, j.index, j.name, j.output_dir) for j in todo]
        run_cameras_batched(cameras, models, progress, run_id=todo[0].run_id if todo else "")
    except StorageError:
        raise  # tracking again one by one would fail to save the same way
    except Exception as err:  # then one by one: finished cameras are reused, a full disk is not retried
        log.debug("batched cameras:\n%s", traceback.format_exc())
        log.warning(
            "batched tracking failed (%s: %s); tracking the cameras one by one", type(err).__name__, err
        )
        return False
    return True


def _storage_failure(job: CameraJob, folder: Path) -> CameraOutcome:
    """The outcome of a camera whose folder could not take its results (already said in the log)."""
    error = f"its results could not be written to {folder}"
    return CameraOutcome(job.index, job.name, error=error, attempts=1)


def _track(job: CameraJob, models: ModelCache, position: int, progress: bool) -> float:
    start = time.perf_counter()
    track_camera(job, models, position, progress)
    return time.perf_counter() - start


def _load(job: CameraJob, outcome: CameraOutcome) -> CameraOutcome:
    """The camera's tracklets from its canonical file (every executor hands results over this way)."""
    outcome.tracklets = load_tracklet_file(job.output_dir / f"{RESULT_STEM}.npz").tracklets
    return outcome


def _failure(job: CameraJob, attempt: int, retries: int, err: BaseException | str) -> str:
    text = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    more = "trying again" if attempt <= retries else "giving up"
    log.warning("camera '%s' failed (attempt %d of %d): %s; %s", job.name, attempt, retries + 1, text, more)
    return text


def _with_retries(job: CameraJob, retries: int, run: Callable[[], float]) -> CameraOutcome:
    outcome = CameraOutcome(job.index, job.name)
    for attempt in range(1, retries + 2):
        outcome.attempts = attempt
        try:
            outcome.seconds = run()
            outcome.error = ""
            return _load(job, outcome)
        except Exception as err:
            log.debug("camera '%s':\n%s", job.name, traceback.format_exc())
            outcome.error = _failure(job, attempt, _retries_for(err, retries), err)
            if attempt > _retries_for(err, retries):
                break
    return outcome


def _retries_for(err: BaseException, retries: int) -> int:
    """A failing ReID model or a full, read-only or forbidden disk fails the same way again: no retry."""
    return 0 if isinstance(err, (FeatureExtractionError, StorageError)) else retries


# --------------------------------------------------------------------------- processes

_WORKER_MODELS: dict[tuple[str, int], ModelCache] = {}  # per worker process: models loaded once


def _init_worker(level: int, driver_pid: int) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    die_with_driver(driver_pid)
    log.info("worker %d started for driver %d", os.getpid(), driver_pid)


def _worker_track(job: CameraJob, threads: int, progress: bool, driver_pid: int) -> float:
    key = (job.cfg.SYSTEM.DEVICE, threads)
    if key not in _WORKER_MODELS:
        _WORKER_MODELS[key] = model_cache(job.cfg, threads)
    try:
        return _track(job, _WORKER_MODELS[key], job.index, progress)
    except KeyboardInterrupt:  # SIGINT or SIGTERM (Terminated): the camera saved what it tracked
        alive = "" if driver_alive(driver_pid) else " (its driver is gone)"
        log.warning("worker %d stopped on camera '%s'%s; exiting", os.getpid(), job.name, alive)
        logging.shutdown()
        os._exit(128 + signal.SIGTERM)  # an idle worker would wait for more work for ever


def _run_processes(cfg: CfgNode, jobs: Sequence[CameraJob], progress: bool) -> list[CameraOutcome]:
    workers, threads = pool_size(cfg, len(jobs))
    log.info("process pool: %d workers x %d inference threads", workers, threads)
    retries = cfg.EXPRESS.RETRIES
    outcomes = {job.index: CameraOutcome(job.index, job.name) for job in jobs}
    context = multiprocessing.get_context("spawn")  # clean workers: no inherited threads or sessions
    level = logging.getLogger().getEffectiveLevel()
    args = (threads, progress, os.getpid())
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(level, os.getpid())
    )
    try:
        pending: dict[Future, CameraJob] = {pool.submit(_worker_track, job, *args): job for job in jobs}
        while pending:
            future = next(iter(_completed(pending)))
            job = pending.pop(future)
            outcome = outcomes[job.index]
            outcome.attempts += 1
            try:
                outcome.seconds = future.result()
                outcome.error = ""
                _load(job, outcome)
            except Exception as err:
                allowed = _retries_for(err, retries)
                outcome.error = _failure(job, outcome.attempts, allowed, err)
                if outcome.attempts <= allowed:
                    try:
                        pending[pool.submit(_worker_track, job, *args)] = job
                    except BrokenProcessPool:
                        outcome.error += " (a worker died, so the pool stopped; not retried)"
    except BaseException:
        stop_workers(pool)
        raise
    pool.shutdown(wait=True)
    return [outcomes[job.index] for job in jobs]


def stop_workers(pool: ProcessPoolExecutor, grace: float = STOP_GRACE) -> None:
    """SIGTERM every worker, give them ``grace`` seconds to save, then kill what is left."""
    workers = multiprocessing.active_children()
    log.warning("stopping %d pool workers; each saves what it tracked", len(workers))
    for worker in workers:
        if worker.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            log.warning("worker %d did not stop in %.0f s; killing it", worker.pid, grace)
            worker.kill()
            worker.join(5.0)
    pool.shutdown(wait=True, cancel_futures=True)  # the workers are gone: this returns at once


def _completed(pending: dict[Future, CameraJob]) -> list[Future]:
    from concurrent.futures import FIRST_COMPLETED, wait

    done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
    return list(done)


# --------------------------------------------------------------------------- ray


def _ray_camera(job: CameraJob, threads: int, level: int) -> tuple[float, bytes]:
    """A Ray task: track the camera on the worker; return its time and canonical file bytes.

    Its log goes to the worker's stderr, which Ray forwards to the driver's. A cancel raises
    KeyboardInterrupt inside the tracking loop: the camera saves what it tracked first.
    """
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        force=True,
    )
    seconds = _track(job, model_cache(job.cfg, threads), job.index, False)
    return seconds, (job.output_dir / f"{RESULT_STEM}.npz").read_bytes()


def import_ray() -> Any:
    """Ray, with its usage-statistics reporting off (nothing in this project phones home).

    A local instance started from here runs its workers at the caller's priority: Ray's default
    niceness 15 let any other busy process starve the camera tasks, which are the job itself (Ray's
    own job manager sets 0 for the same reason).
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_worker_niceness", "0")
    from models.runtime import import_backend

    return import_backend("ray", "ray")


def _init_ray(ray: Any, address: str | None) -> None:
    """Start or join Ray, keeping this process's stop handlers (``ray.init`` replaces SIGTERM's)."""
    handlers = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    ray.init(address=address, include_dashboard=False, log_to_driver=True, configure_logging=False)
    for sig, handler in handlers.items():
        if handler is not None:
            signal.signal(sig, handler)
    log.info("ray: %s", "local instance started" if address is None else f"connected to {address}")


def _run_ray(cfg: CfgNode, jobs: Sequence[CameraJob]) -> list[CameraOutcome]:
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        _init_ray(ray, cfg.EXPRESS.RAY_ADDRESS or None)
    pending: dict[Any, CameraJob] = {}
    try:
        threads = max(1, int(cfg.EXPRESS.RAY_NUM_CPUS))
        level = logging.getLogger().getEffectiveLevel()
        task = ray.remote(_ray_camera).options(
            num_cpus=cfg.EXPRESS.RAY_NUM_CPUS, num_gpus=cfg.EXPRESS.RAY_NUM_GPUS, max_retries=0
        )
        outcomes = {job.index: CameraOutcome(job.index, job.name) for job in jobs}
        pending = {task.remote(job, threads, level): job for job in jobs}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(ready[0])
            outcome = outcomes[job.index]
            outcome.attempts += 1
            try:
                outcome.seconds, data = ray.get(ready[0])
                outcome.error = ""
                _receive(job, data)
                _load(job, outcome)
            except Exception as err:
                cause = getattr(err, "cause", None) or err
                outcome.error = _failure(job, outcome.attempts, cfg.EXPRESS.RETRIES, cause)
                if outcome.attempts <= cfg.EXPRESS.RETRIES:
                    pending[task.remote(job, threads, level)] = job
        return [outcomes[job.index] for job in jobs]
    except KeyboardInterrupt:
        _cancel_ray(ray, pending)
        raise
    finally:
        if started:
            ray.shutdown()


def _cancel_ray(ray: Any, pending: dict[Any, CameraJob], grace: float = STOP_GRACE) -> None:
    """Cancel the running tasks and wait up to ``grace`` seconds while each saves what it tracked."""
    if not pending:
        return
    log.warning("stopping %d Ray tasks; each saves what it tracked", len(pending))
    for ref in pending:
        ray.cancel(ref, force=False)
    _, left = ray.wait(list(pending), num_returns=len(pending), timeout=grace)
    for ref in left:
        log.warning("camera '%s': its Ray task did not stop in %.0f s; not saved", pending[ref].name, grace)


def _receive(job: CameraJob, data: bytes) -> None:
    """Write the camera's results on the driver's disk when the worker's disk is another one."""
    path = job.output_dir / f"{RESULT_STEM}.npz"
    if path.is_file() and path.read_bytes() == data:
        return
    with saving(f"camera '{job.name}': its {RESULT_STEM}.* result set in {job.output_dir}"):
        _write_received(job, data)


def _write_received(job: CameraJob, data: bytes) -> None:
    from config.paths import atomic_write

    path = job.output_dir / f"{RESULT_STEM}.npz"
    with atomic_write(path.with_name(".received.npz")) as f:
        f.write(data)
    table = load_tracklet_file(path.with_name(".received.npz"))
    remove_manifest(job.output_dir, RESULT_STEM)
    written = save_all(job.output_dir, RESULT_STEM, table.tracklets, info=table.info)
    path.with_name(".received.npz").unlink()
    info = table.info
    write_manifest(
        job.output_dir,
        RESULT_STEM,
        written,
        run_id=str(info.get("run_id", "")),
        command=str(info.get("command", "express")),
        fingerprint=str(info.get("fingerprint", "")),
        complete=bool(info.get("complete")),
        extra={"video_read": info["video_read"]} if "video_read" in info else None,
    )
    log.info("camera '%s': results received from the Ray worker and written to %s", job.name, job.output_dir)


def camera_dirs(jobs: Sequence[CameraJob], outcomes: Sequence[CameraOutcome]) -> list[Path | None]:
    """The output folder of every camera that succeeded, None for the others."""
    return [job.output_dir if outcome.ok else None for job, outcome in zip(jobs, outcomes, strict=True)]
