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
import logging
import sys
from pathlib import Path
from typing import Any

from yacs.config import CfgNode

from config.cli import run_cli
from detection.video import VideoSourceError, probe_video
from mot.manifest import new_run_id
from mot.model_cache import ModelCache, model_cache
from mot.plan import save_plan
from mtmc.express import camera_jobs
from mtmc.live.access import exposure_problem
from mtmc.live.capture import is_stream
from mtmc.live.run import LiveRun
from mtmc.live.server import ServerStartError
from mtmc.live.session import recover, session_folder
from mtmc.live.signals import run_session

log = logging.getLogger("mtmc.live")


def run(cfg: CfgNode, args: argparse.Namespace) -> int:
    """Validate the exposure, sources and models, then run a session (``--dry-run`` stops before it)."""
    if problem := start_problem(cfg):
        log.error("%s", problem)
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


def start_problem(cfg: CfgNode) -> str | None:
    """Why the session must not start before any model loads: a public bind without a good token,
    or a video file that cannot be read (a network camera down now joins when it comes up)."""
    if problem := exposure_problem(cfg.LIVE.BIND_ADDRESS, cfg.LIVE.ACCESS_TOKEN):
        return problem
    for job in camera_jobs(cfg):
        if is_stream(job.cfg.MOT.VIDEO):
            continue
        try:
            probe_video(job.cfg.MOT.VIDEO)
        except VideoSourceError as err:
            return f"camera '{job.name}': {err}"
    return None


def live_model_problems(cfg: CfgNode, models: ModelCache) -> list[str]:
    """Load and check every camera's detector and ReID model against its config (mot.model_checks);
    the workers then take them from ``models`` instead of loading them again."""
    from mot.model_checks import model_problems

    return [f"camera '{j.name}': {p}" for j in camera_jobs(cfg) for p in model_problems(j.cfg.MOT, models)]


def _redacted(cfg: CfgNode) -> CfgNode:
    """The config as saved with the run: the access token is not written to OUTPUT_DIR."""
    if not cfg.LIVE.ACCESS_TOKEN:
        return cfg
    view = cfg.clone()
    view.defrost()
    view.LIVE.ACCESS_TOKEN = "<redacted>"
    return view


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
