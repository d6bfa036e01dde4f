"""Configuration keys of the process (``SYSTEM``) and of the runs (``MTMC``, ``EXPRESS``, ``EVAL``,
``LIVE``)."""

from __future__ import annotations

from config import checks as ck
from config.key import (
    EXECUTORS,
    LINKAGES,
    OPENVINO_HINTS,
    ORT_EXECUTION_MODES,
    ORT_GRAPH_OPTIMIZATIONS,
    Key,
)

SYSTEM_KEYS: tuple[Key, ...] = (
    # ---------------------------------------------------------------- SYSTEM
    Key(
        "SYSTEM.DEVICE", "cpu", ck.one_of("cpu", "cuda"), "Where inference runs; 'cuda' needs the gpu extra."
    ),
    Key(
        "SYSTEM.NUM_THREADS",
        0,
        ck.non_negative_int(),
        "Intra-op threads per model; 0 lets the runtime choose.",
    ),
    Key(
        "SYSTEM.ORT_EXECUTION_MODE",
        "sequential",
        ck.one_of(*ORT_EXECUTION_MODES),
        "ONNX Runtime: 'parallel' runs independent graph branches on inter-op threads.",
    ),
    Key(
        "SYSTEM.ORT_GRAPH_OPTIMIZATION",
        "all",
        ck.one_of(*ORT_GRAPH_OPTIMIZATIONS),
        "ONNX Runtime graph optimisation level (int8 QDQ models need 'extended' or 'all' to fuse).",
    ),
    Key(
        "SYSTEM.OPENVINO_HINT",
        "",
        ck.one_of(*OPENVINO_HINTS),
        "OpenVINO performance hint; '' keeps its default, 'throughput' one stream per core.",
    ),
    Key("OUTPUT_DIR", "", ck.is_str(), "Directory that receives every result of a run.", path="output"),
)

RUN_KEYS: tuple[Key, ...] = (
    # ---------------------------------------------------------------- MTMC
    Key(
        "MTMC.CAMERA_LAYOUT",
        "",
        ck.is_str(),
        "Camera layout file (fps, offsets, transition windows).",
        path="input",
    ),
    Key(
        "MTMC.TRACKLETS",
        [],
        ck.list_of(ck.is_str()),
        "Canonical tracklet files (.npz), one per camera in layout order.",
        path="input",
    ),
    Key(
        "MTMC.PICKLED_TRACKLETS",
        [],
        ck.list_of(ck.is_str()),
        "Legacy pickled tracklets, one per camera; needs MTMC.ALLOW_PICKLE.",
        path="input",
    ),
    Key("MTMC.ALLOW_PICKLE", False, ck.is_bool(), "Permit reading .pkl files (executes code from the file)."),
    Key("MTMC.LINKAGE", "average", ck.one_of(*LINKAGES), "Cluster-to-cluster similarity."),
    Key(
        "MTMC.MIN_SIM",
        0.4,
        ck.float_range(-1.0, 1.0),
        "Clustering stops when no compatible pair is this similar (0.4: about 3 % of other-vehicle "
        "cross-camera crop pairs reach it with the default descriptor; docs/reid.md).",
    ),
    Key(
        "MTMC.REENTRY_GAP",
        6.0,
        ck.float_range(0.0),
        "Seconds a vehicle may vanish from a camera's view and come back as a new track of that "
        "camera (occlusion, a tracker's cut) and still be joined, when the two fragments are "
        "MIN_SIM alike themselves; a layout line 'c c min max' overrides it per camera. 0: "
        "same-camera joins only through the layout's re-entry lines.",
    ),
    Key(
        "MTMC.REENTRY_MIN_SIM",
        0.4,
        ck.float_range(-1.0, 1.0),
        "Similarity two fragments of one camera need to be joined (the larger of this and "
        "MIN_SIM): look-alike vehicles passing one camera seconds apart stay apart.",
    ),
    Key(
        "MTMC.CONTINUITY_GAP",
        2.0,
        ck.float_range(0.0),
        "Seconds within which a cut track (occlusion, a tracker's ID switch) that resumes where its "
        "motion led may be joined on weaker appearance (MTMC.CONTINUITY_MIN_SIM instead of "
        "MTMC.REENTRY_MIN_SIM); only inside a re-entry window (MTMC.REENTRY_GAP or a layout line). "
        "0: off.",
    ),
    Key(
        "MTMC.CONTINUITY_REACH",
        1.0,
        ck.float_range(0.0, lo_open=True),
        "Box sizes (square root of the box area) the resumed fragment's first box centre may lie "
        "from the earlier fragment's last centre carried on by its last velocity over the gap; "
        "a fragment continues only its closest such partner (one track continues as one track).",
    ),
    Key(
        "MTMC.CONTINUITY_MIN_SIM",
        0.0,
        ck.float_range(-1.0, 1.0),
        "Similarity a continuing fragment needs (-1: none); the look-alike following a vehicle "
        "enters elsewhere or where it stood, not where it was heading.",
    ),
    Key(
        "MTMC.SAME_CAMERA_FLOOR",
        0.6,
        ck.float_range(0.0, 1.0),
        "Every join of two fragments of one camera (continuity or re-entry) also needs a similarity "
        "this fraction of the way from the run's different-vehicle level (median of pairs seen at "
        "once in one camera) to its same-vehicle level (cross-camera mutual-nearest pairs: their "
        "median less 3 spreads); mtmc.calibration. A look-alike sharing a part rho of a vehicle's "
        "appearance lies about rho of the way. 0: off.",
    ),
    Key(
        "MTMC.REENTRY_CAP",
        True,
        ck.is_bool(),
        "Cap the appearance a re-entry without continuity needs (max(MIN_SIM, REENTRY_MIN_SIM)) at "
        "the run's same-vehicle level (mtmc.calibration): with noisy descriptors a vehicle's own "
        "fragments are less alike than a fixed bar; MTMC.SAME_CAMERA_FLOOR still applies.",
    ),
    Key(
        "MTMC.FEATURE_CENTER",
        True,
        ck.is_bool(),
        "Subtract the run's mean tracklet descriptor (generic ReID features share a large common part).",
    ),
    Key(
        "MTMC.FEATURE_PCA_DIM",
        0,
        ck.non_negative_int(),
        "PCA-whiten descriptors to this many dimensions, fitted on the run's features (0 disables).",
    ),
    Key(
        "MTMC.COLOR_WEIGHT",
        0.3,
        ck.float_range(0.0, 1.0),
        "Weight of the colour-histogram similarity blended into the descriptor similarity.",
    ),
    Key(
        "MTMC.CAMERA_NORM",
        True,
        ck.is_bool(),
        "Centre each tracklet's feature on its own camera's mean (shrunk to the run's mean by "
        "MTMC.CAMERA_NORM_SHRINKAGE) instead of the run's mean (replaces MTMC.FEATURE_CENTER when on).",
    ),
    Key(
        "MTMC.CAMERA_NORM_SHRINKAGE",
        1.0,
        ck.float_range(0.0, None),
        "Pseudo-count of run-mean rows added to each camera's mean, so a camera with few vehicles is "
        "centred mostly on the run's mean (0: its own mean alone).",
    ),
    Key(
        "MTMC.COLOR_CAMERA_NORM",
        True,
        ck.is_bool(),
        "Centre the colour part too on its camera's mean (square-rooted histograms, shrunk by "
        "MTMC.CAMERA_NORM_SHRINKAGE): removes a camera's colour cast; lowers other-vehicle similarities, "
        "so MTMC.MIN_SIM is chosen with it (docs/reid.md).",
    ),
    Key(
        "MTMC.REPORT_MAX_VEHICLES",
        200,
        ck.non_negative_int(),
        "Vehicles shown with crops in report.html (multi-camera ones first); 0 writes no report.",
    ),
    # ---------------------------------------------------------------- EXPRESS
    Key(
        "EXPRESS.CAMERAS",
        [],
        ck.camera_list(),
        "Cameras in layout order: {video, name, and any MOT key in lower case as an override}.",
    ),
    Key("EXPRESS.FINAL_VIDEO_OUTPUT", False, ck.is_bool(), "Write mtmc.mp4 per camera with global IDs."),
    Key(
        "EXPRESS.EXECUTOR",
        "auto",
        ck.one_of(*EXECUTORS),
        "How cameras are tracked: one after another, all at once with shared detector batches "
        "('batched'), in a process pool, or as Ray tasks; 'auto': processes when there are several cameras.",
    ),
    Key(
        "EXPRESS.WORKERS",
        0,
        ck.non_negative_int(),
        "Worker processes (processes executor); 0: one per core, at most one per camera.",
    ),
    Key(
        "EXPRESS.THREADS_PER_WORKER",
        0,
        ck.non_negative_int(),
        "Inference threads per worker; 0: the cores shared evenly, so workers x threads <= cores.",
    ),
    Key("EXPRESS.RETRIES", 1, ck.non_negative_int(), "Times a failed camera is tried again."),
    Key(
        "EXPRESS.ALLOW_PARTIAL",
        False,
        ck.is_bool(),
        "Run MTMC on the cameras that succeeded when others failed (otherwise stop with an error).",
    ),
    Key(
        "EXPRESS.RAY_ADDRESS",
        "",
        ck.is_str(),
        "Ray cluster: '' starts a local instance, 'auto' joins the local cluster, or ray://host:port.",
    ),
    Key(
        "EXPRESS.RAY_NUM_CPUS",
        1.0,
        ck.float_range(0.0, None, lo_open=True),
        "CPUs requested by each camera's Ray task.",
    ),
    Key("EXPRESS.RAY_NUM_GPUS", 0.0, ck.float_range(0.0, None), "GPUs requested by each camera's Ray task."),
    # ---------------------------------------------------------------- EVAL
    Key(
        "EVAL.GROUND_TRUTHS",
        [],
        ck.list_of(ck.is_str()),
        "MOTChallenge ground-truth files, one per camera.",
        path="input",
    ),
    Key(
        "EVAL.PREDICTIONS",
        [],
        ck.list_of(ck.is_str()),
        "Prediction files matching EVAL.GROUND_TRUTHS.",
        path="input",
    ),
    Key(
        "EVAL.MIN_IOU",
        0.5,
        ck.float_range(0.0, 1.0, lo_open=True),
        "IoU for a prediction to match ground truth.",
    ),
    Key(
        "EVAL.DROP_SINGLE_CAM", False, ck.is_bool(), "Multi-camera score ignores vehicles seen by one camera."
    ),
    Key(
        "EVAL.IGNORE_FP",
        False,
        ck.is_bool(),
        "Drop predictions matching no ground truth before scoring (flatters results).",
    ),
    # ---------------------------------------------------------------- LIVE
    Key(
        "LIVE.TARGET_FPS",
        8.0,
        ck.float_range(0.0, None, lo_open=True),
        "Frames processed per second per camera.",
    ),
    Key(
        "LIVE.BIND_ADDRESS",
        "127.0.0.1",
        ck.is_str(),
        "Address the HTTP server listens on; a non-loopback one needs LIVE.ACCESS_TOKEN.",
    ),
    Key(
        "LIVE.ACCESS_TOKEN",
        "",
        ck.is_str(),
        "When set, every HTTP route needs it (header 'Authorization: Bearer ...' or ?token=...); "
        "at least 16 characters when LIVE.BIND_ADDRESS is not loopback.",
    ),
    Key(
        "LIVE.REQUEST_TIMEOUT",
        10.0,
        ck.float_range(0.0, None, lo_open=True),
        "Seconds the HTTP server waits on a client's request before closing the connection.",
    ),
    Key(
        "LIVE.MJPEG_PORT",
        8080,
        ck.int_range(0, 65535),
        "Port of the HTTP server (0: any free port, shown in the log).",
    ),
    Key("LIVE.MAX_STREAM_CLIENTS", 32, ck.positive_int(), "Concurrent MJPEG clients before answering 503."),
    Key(
        "LIVE.CLUSTER_INTERVAL",
        10.0,
        ck.float_range(0.0, None, lo_open=True),
        "Seconds between re-clusterings.",
    ),
    Key("LIVE.MIN_TRACK_FRAMES", 5, ck.positive_int(), "Tracks shorter than this are not clustered."),
    Key("LIVE.MAX_SKEW_TICKS", 1, ck.non_negative_int(), "Ticks a camera may run ahead of the slowest."),
    Key(
        "LIVE.STALL_SECONDS",
        5.0,
        ck.float_range(0.0, None, lo_open=True),
        "A camera with no new frame this long is stalled: not tracked, its tracks end, /healthz 503.",
    ),
    Key("LIVE.LOOP_VIDEO", True, ck.is_bool(), "Restart video files when they end."),
    Key(
        "LIVE.SLEEP_ON_EMPTY", 0.02, ck.float_range(0.0, None), "Seconds to sleep when a source has no frame."
    ),
    Key("LIVE.SIMILARITY_THRESHOLD", 0.5, ck.float_range(-1.0, 1.0), "MIN_SIM used by live clustering."),
    Key(
        "LIVE.GLOBAL_FEATURE_EMA",
        0.0,
        ck.float_range(0.0, 1.0),
        "Smoothing of a global ID's feature between rounds (0 replaces it).",
    ),
    Key(
        "LIVE.DURATION",
        0.0,
        ck.float_range(0.0, None),
        "Seconds the live run lasts before stopping by itself; 0 runs until Ctrl-C or SIGTERM.",
    ),
    Key(
        "LIVE.CHECKPOINT_SECONDS",
        10.0,
        ck.float_range(0.0, None, lo_open=True),
        "Seconds between writes of finished tracklets to each camera's live.journal; a crash loses at "
        "most this much.",
    ),
    Key(
        "LIVE.MAX_INACTIVE_SECS",
        3.0,
        ck.float_range(0.0, None, lo_open=True),
        "Tracks unseen this long expire.",
    ),
)
