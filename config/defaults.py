"""Every configuration key: its default, what it accepts and what it means.

The schema below is the single source of truth: ``get_cfg_defaults()`` builds the
yacs tree from it, ``config.verify_config`` checks values against it, and the
The configuration reference in docs/configuration.md is generated from it (``tools/config_reference.py``).

Path kinds (``path=``) say how a relative path is resolved by ``config.loader``:

* ``input``: relative to the directory of the YAML file that set it (CLI overrides:
  relative to the working directory). Must exist when its stage runs.
* ``model``: like ``input`` if such a file exists, otherwise a model *name* looked up
  by ``models.registry.resolve_model`` (``models/``, ``$VEHICLE_MTMC_MODELS``,
  ``../shared/models``).
* ``video``: like ``input``, but URLs (``rtsp://``, ``http://``, ...) are kept as they are.
* ``output``: relative to the working directory, created on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from yacs.config import CfgNode

from config import checks as ck

PathKind = Literal["input", "model", "video", "output"]


@dataclass(frozen=True)
class Key:
    """One configuration key of the schema."""

    name: str
    default: Any
    check: ck.Check
    doc: str
    path: PathKind | None = None

    @property
    def section(self) -> str:
        return self.name.split(".")[0] if "." in self.name else ""


DETECTOR_BACKENDS = ("auto", "onnxruntime", "openvino", "ultralytics", "tensorrt")
DETECTOR_OUTPUT_FORMATS = ("auto", "yolox", "yolov5", "yolov8", "ssd")
REID_BACKENDS = ("onnxruntime", "torch", "openvino", "tensorrt", "none")
TRACKERS = ("bytetrack_iou", "deepsort")
LINKAGES = ("average", "single", "complete", "mean_feature")
EXECUTORS = ("auto", "sequential", "batched", "processes", "ray")
# The same choices as models.runtime (a test keeps them equal; config imports no later stage).
ORT_EXECUTION_MODES = ("sequential", "parallel")
ORT_GRAPH_OPTIMIZATIONS = ("disable", "basic", "extended", "all")
OPENVINO_HINTS = ("", "latency", "throughput")

# COCO ids of motor vehicles: car 2, motorcycle 3, bus 5, truck 7 (bicycle 1 is left out).
COCO_VEHICLES = [2, 3, 5, 7]

SCHEMA: tuple[Key, ...] = (
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
    # ---------------------------------------------------------------- MOT: input
    Key("MOT.VIDEO", "", ck.is_str(), "Video file, MOTChallenge image folder or stream URL.", path="video"),
    # ---------------------------------------------------------------- MOT: detection
    Key(
        "MOT.DETECTOR",
        "vehicle-detection-0202",
        ck.is_str(),
        "Detector model file or name (the default runs on OpenVINO; see docs/models.md).",
        path="model",
    ),
    Key(
        "MOT.DETECTOR_BACKEND",
        "auto",
        ck.one_of(*DETECTOR_BACKENDS),
        "Inference backend; 'auto' picks it from the model file's suffix.",
    ),
    Key(
        "MOT.DETECTOR_OUTPUT_FORMAT",
        "auto",
        ck.one_of(*DETECTOR_OUTPUT_FORMATS),
        "Raw output layout of the detector ('ssd': Open Model Zoo [1, 1, N, 7]); 'auto' infers it from the "
        "output shape.",
    ),
    Key(
        "MOT.DETECTOR_INPUT_SIZE",
        [],
        ck.list_of(ck.positive_int()),
        "Network input [height, width]; unless set, the detector's manifest value, else the model's size. "
        "OpenVINO models are reshaped to it; other runtimes need the size in the file.",
    ),
    Key(
        "MOT.DETECTOR_FP16",
        False,
        ck.is_bool(),
        "Half precision for the detector where the backend supports it (OpenVINO: bf16 or f16).",
    ),
    Key(
        "MOT.DETECTION_CONF_THRESH",
        0.1,
        ck.float_range(0.0, 1.0),
        "Detections below this score are dropped before tracking (ByteTrack uses the low ones); unless set, "
        "the detector's manifest value applies.",
    ),
    Key(
        "MOT.DETECTION_NMS_IOU",
        0.45,
        ck.float_range(0.0, 1.0),
        "IoU above which NMS suppresses a box of the same NMS group (see DETECTION_NMS_CLASS_AGNOSTIC); "
        "unless set, the detector's manifest value applies.",
    ),
    Key(
        "MOT.DETECTION_NMS_CLASS_AGNOSTIC",
        True,
        ck.is_bool(),
        "NMS treats all TRACKED_CLASSES as one class, so one vehicle gives one box (the class of its best "
        "score); False: boxes of different classes never suppress each other.",
    ),
    Key(
        "MOT.DETECTOR_CLASS_MAP",
        [],
        ck.list_of(ck.int_range(-1, None)),
        "Model label -> class id (COCO ids; -1 drops the label) for SSD detectors; empty: the manifest's "
        "map for a known model, else labels unchanged.",
    ),
    Key(
        "MOT.DETECTION_TILE_SIZE",
        0,
        ck.non_negative_int(),
        "Side of square tiles run in addition to the full frame (0 disables tiling).",
    ),
    Key(
        "MOT.DETECTION_TILE_OVERLAP",
        0.2,
        ck.float_range(0.0, 0.9),
        "Fractional overlap between neighbouring tiles.",
    ),
    Key(
        "MOT.PIPELINE_LOOKAHEAD",
        2,
        ck.non_negative_int(),
        "Frames detected ahead of the tracker in background threads; 0 runs every stage in one thread.",
    ),
    Key(
        "MOT.DETECTION_WORKERS",
        2,
        ck.positive_int(),
        "Frames detected at once when MOT.PIPELINE_LOOKAHEAD > 0, the cores split between them "
        "(results do not change; 2 on 2 cores: 1.35x YOLOX-Nano frames/s, see docs/benchmarks.md).",
    ),
    Key(
        "MOT.DETECTION_SCHEDULE",
        "motion",
        ck.one_of("every_frame", "interval", "motion"),
        "Frames the detector runs on; the tracker predicts the others (boxes marked in the per-frame "
        "'box_source', interpolated between detections in batch runs). 'every_frame'; 'interval': one "
        "frame per MOT.DETECTION_INTERVAL; 'motion': that while the image changes, one per "
        "MOT.MOTION_MAX_INTERVAL in a static scene (docs/realtime.md).",
    ),
    Key(
        "MOT.DETECTION_INTERVAL",
        0.3,
        ck.float_range(0.0, 10.0),
        "Seconds between detections ('interval', and 'motion' while the scene moves), turned into "
        "frames with the video's frame rate (0.3 s: every 3rd frame at 10 fps); also the longest delay "
        "before a new vehicle is detected.",
    ),
    Key(
        "MOT.MOTION_MAX_INTERVAL",
        1.0,
        ck.float_range(0.0, 60.0),
        "'motion' schedule: seconds between detections while nothing moves "
        "(at least MOT.DETECTION_INTERVAL).",
    ),
    Key(
        "MOT.MOTION_THRESHOLD",
        0.0001,
        ck.float_range(0.0, 1.0),
        "'motion' schedule: share of pixels (of a 160-pixel-wide grey copy) that must change since the "
        "last detected frame for the scene to count as moving.",
    ),
    Key(
        "MOT.MOTION_PIXEL_DIFF",
        20,
        ck.int_range(1, 255),
        "'motion' schedule: grey levels a pixel must change by to count as changed.",
    ),
    Key(
        "MOT.DETECTION_MAX_SHIFT",
        0.1,
        ck.float_range(0.0, 10.0),
        "Adaptive schedules: detect the next frame too while a new track awaits confirmation, or once a "
        "confirmed track's predicted shift since the last detection exceeds this share of its box height "
        "(fast traffic, moving camera); 0: off (fixed cadence).",
    ),
    Key(
        "MOT.DETECTION_STAGGER",
        True,
        ck.is_bool(),
        "Several cameras (express, live): offset each camera's detection frames by a share of the "
        "interval, so each frame step detects only some cameras and the detector's load stays even.",
    ),
    Key(
        "MOT.TRACKED_CLASSES",
        list(COCO_VEHICLES),
        ck.list_of(ck.non_negative_int()),
        "Class ids kept after detection (COCO: car 2, motorcycle 3, bus 5, truck 7).",
    ),
    Key(
        "MOT.CLASS_NAMES", [], ck.list_of(ck.is_str()), "Class names of a custom detector; empty means COCO."
    ),
    Key(
        "MOT.DETECTION_MASK",
        "",
        ck.is_str(),
        "ROI image: detections whose box centre falls on a black pixel are dropped.",
        path="input",
    ),
    # ---------------------------------------------------------------- MOT: ReID
    Key(
        "MOT.REID_BACKEND",
        "onnxruntime",
        ck.one_of(*REID_BACKENDS),
        "Appearance-feature backend; 'none' tracks without features (single-camera ByteTrack only, "
        "as ultralytics' track(): no matching across cameras later).",
    ),
    Key(
        "MOT.REID_ONNX",
        "vehicle_reid_mnv2_vn2cam.onnx",
        ck.is_str(),
        "ReID model for the onnxruntime and openvino backends; the default ships in models/, trained "
        "for vehicles on openly licensed data (docs/models-reid-training.md); when unset, a vehicle "
        "ReID model downloaded by mtmc-download-models wins over it (docs/reid.md).",
        path="model",
    ),
    Key(
        "MOT.REID_TRT", "", ck.is_str(), "Serialized TensorRT engine for the tensorrt backend.", path="model"
    ),
    Key(
        "MOT.REID_MODEL_OPTS",
        "",
        ck.is_str(),
        "opts.yaml of a torch ReID checkpoint (torch backend).",
        path="input",
    ),
    Key("MOT.REID_MODEL_CKPT", "", ck.is_str(), "Torch ReID checkpoint (torch backend).", path="input"),
    Key(
        "MOT.REID_INPUT_SIZE",
        [224, 224],
        ck.list_of(ck.int_range(1, 2048), 2),
        "ReID crop size [height, width] (at most 2048 each); must equal a fixed-shape model's input.",
    ),
    Key(
        "MOT.REID_MEAN",
        [0.485, 0.456, 0.406],
        ck.list_of(ck.float_range(0.0, 1.0), 3),
        "Per-channel mean (in MOT.REID_CHANNEL_ORDER) subtracted from crops scaled to [0, 1].",
    ),
    Key(
        "MOT.REID_STD",
        [0.229, 0.224, 0.225],
        ck.list_of(ck.float_range(0.0, None, lo_open=True), 3),
        "Per-channel standard deviation dividing crops; mean 0 and std 1/255 feed raw 0..255 pixels.",
    ),
    Key(
        "MOT.REID_CHANNEL_ORDER",
        "rgb",
        ck.one_of("rgb", "bgr"),
        "Channel order the ReID model takes (OpenVINO vehicle-reid-0001: bgr); checked against the model.",
    ),
    Key(
        "MOT.REID_FLIP",
        False,
        ck.is_bool(),
        "Sum each crop's feature with its mirror image's, as the original's extraction did (2x ReID cost).",
    ),
    Key(
        "MOT.REID_FP16",
        False,
        ck.is_bool(),
        "Half precision for ReID where the backend supports it (OpenVINO: bf16 or f16).",
    ),
    Key("MOT.REID_BATCHSIZE", 32, ck.positive_int(), "Crops per ReID inference call."),
    Key(
        "MOT.REID_SAMPLES_PER_TRACK",
        10,
        ck.positive_int(),
        "Appearance samples kept per track (good boxes spread over it); ByteTrack embeds only these.",
    ),
    # ---------------------------------------------------------------- MOT: tracking
    Key("MOT.TRACKER", "bytetrack_iou", ck.one_of(*TRACKERS), "Single-camera tracker."),
    Key("MOT.MIN_FRAMES", 3, ck.positive_int(), "Tracks with fewer boxes are discarded."),
    Key(
        "MOT.BYTETRACK.TRACK_THRESH",
        0.5,
        ck.float_range(0.0, 1.0),
        "Score splitting high (first association) from low detections.",
    ),
    Key(
        "MOT.BYTETRACK.LOW_THRESH",
        0.1,
        ck.float_range(0.0, 1.0),
        "Detections below this are ignored entirely.",
    ),
    Key(
        "MOT.BYTETRACK.NEW_TRACK_THRESH",
        0.6,
        ck.float_range(0.0, 1.0),
        "Minimum score of an unmatched detection to start a track.",
    ),
    Key(
        "MOT.BYTETRACK.MATCH_THRESH",
        0.8,
        ck.float_range(0.0, 1.0),
        "Maximum IoU distance (1 - IoU) accepted in the first association.",
    ),
    Key(
        "MOT.BYTETRACK.SECOND_MATCH_THRESH",
        0.5,
        ck.float_range(0.0, 1.0),
        "Maximum IoU distance accepted when matching low-score detections.",
    ),
    Key(
        "MOT.BYTETRACK.UNCONFIRMED_MATCH_THRESH",
        0.7,
        ck.float_range(0.0, 1.0),
        "Maximum IoU distance accepted for tracks seen only once.",
    ),
    Key(
        "MOT.BYTETRACK.TRACK_BUFFER",
        30,
        ck.positive_int(),
        "Frames a lost track is kept at 30 fps; scaled by the video's frame rate.",
    ),
    Key(
        "MOT.BYTETRACK.FUSE_SCORE",
        True,
        ck.is_bool(),
        "Multiply IoU by detection score in the first association.",
    ),
    Key(
        "MOT.BYTETRACK.IOU_PLUS_ONE",
        False,
        ck.is_bool(),
        "Add 1 px to box widths and heights in IoU (the reference ByteTrack's pixel-inclusive "
        "convention; more lenient for small boxes).",
    ),
    Key(
        "MOT.BYTETRACK.OBSERVATION_REUPDATE",
        True,
        ck.is_bool(),
        "OC-SORT's observation-centric re-update: a track found again after missed frames is "
        "re-filtered from its last observation along the line to the new one.",
    ),
    Key(
        "MOT.BYTETRACK.OBSERVATION_RECOVERY",
        False,
        ck.is_bool(),
        "OC-SORT's observation-centric recovery: tracks left unmatched get a second match "
        "against free confident detections by their last observed box.",
    ),
    Key(
        "MOT.BYTETRACK.RECOVERY_MATCH_THRESH",
        0.7,
        ck.float_range(0.0, 1.0),
        "With OBSERVATION_RECOVERY: maximum IoU distance to the last observed box.",
    ),
    Key(
        "MOT.BYTETRACK.KALMAN_STATE",
        "xyah",
        ck.one_of("xyah", "xywh"),
        "Kalman box state: xyah (centre, aspect ratio, height; ByteTrack) or xywh (centre, width, "
        "height; BoT-SORT).",
    ),
    Key(
        "MOT.BYTETRACK.APPEARANCE",
        False,
        ck.is_bool(),
        "BoT-SORT-style fusion: with ReID embeddings, the first association takes the smaller of "
        "the IoU and the appearance cost (computes embeddings for every detection).",
    ),
    Key(
        "MOT.BYTETRACK.PROXIMITY_THRESH",
        0.5,
        ck.float_range(0.0, 1.0),
        "With APPEARANCE: appearance counts only for pairs closer than this IoU distance.",
    ),
    Key(
        "MOT.BYTETRACK.APPEARANCE_THRESH",
        0.25,
        ck.float_range(0.0, 1.0),
        "With APPEARANCE: half cosine distance above which two boxes do not look alike.",
    ),
    Key(
        "MOT.BYTETRACK.ADAPTIVE_THRESH",
        True,
        ck.is_bool(),
        "Score-aware split: the high/low split rises from TRACK_THRESH to the detector's own "
        "vehicle/clutter split (Otsu threshold of the scores seen so far, used only where it lies "
        "in a sparse valley), at most ADAPTIVE_MAX; NEW_TRACK_THRESH keeps its margin above it.",
    ),
    Key(
        "MOT.BYTETRACK.ADAPTIVE_MAX",
        0.8,
        ck.float_range(0.0, 1.0),
        "With ADAPTIVE_THRESH: the highest split allowed.",
    ),
    Key(
        "MOT.BYTETRACK.DIRECTION_WEIGHT",
        0.0,
        ck.float_range(0.0, 1.0),
        "OC-SORT's velocity direction consistency in the first association: a detection in the "
        "direction a track moved between its last observations gains up to half this weight "
        "(times its score) of IoU cost, one behind it loses as much (0 disables).",
    ),
    Key(
        "MOT.BYTETRACK.DELETION_HITS",
        5,
        ck.non_negative_int(),
        "Track-confidence-aware deletion: a lost track with fewer matches than this is kept only "
        "that fraction of TRACK_BUFFER (a short, uncertain track does not wait to steal a "
        "detection; 0 disables; 5 measured better on KITTI, S02 and equal on c010).",
    ),
    Key(
        "MOT.BYTETRACK.LONG_BUFFER",
        0,
        ck.non_negative_int(),
        "Frames (at 30 fps) a lost track is kept for a last association by its last observed box "
        "(RECOVERY_MATCH_THRESH) against confident detections nobody claimed, once TRACK_BUFFER has "
        "passed: a car parked behind passing traffic keeps its id (0 or <= TRACK_BUFFER disables).",
    ),
    Key(
        "MOT.DEEPSORT.MAX_COSINE_DISTANCE",
        0.4,
        ck.float_range(0.0, 2.0),
        "Appearance gate: larger cosine distances never match (0.4 keeps 98 % of one vehicle's "
        "near-frame pairs and refuses 96 % of other vehicles with the default ReID model; docs/reid.md).",
    ),
    Key("MOT.DEEPSORT.NN_BUDGET", 100, ck.positive_int(), "Features kept per track for appearance matching."),
    Key("MOT.DEEPSORT.MAX_IOU_DISTANCE", 0.7, ck.float_range(0.0, 1.0), "IoU-fallback gate (1 - IoU)."),
    Key(
        "MOT.DEEPSORT.MAX_AGE",
        30,
        ck.positive_int(),
        "Frames without a match before a track is deleted (at 30 fps).",
    ),
    Key("MOT.DEEPSORT.N_INIT", 3, ck.positive_int(), "Consecutive matches before a track is confirmed."),
    Key(
        "MOT.DEEPSORT.MIN_CONFIDENCE",
        0.3,
        ck.float_range(0.0, 1.0),
        "Detections below this score are not tracked.",
    ),
    # ---------------------------------------------------------------- MOT: output
    Key("MOT.VIDEO_OUTPUT", False, ck.is_bool(), "Write the annotated mot.mp4."),
    Key("MOT.SHOW", False, ck.is_bool(), "Show frames in a window (warns and continues when headless)."),
    # ---------------------------------------------------------------- MOT: attributes
    Key(
        "MOT.STATIC_ATTRIBUTES",
        [],
        ck.attribute_models(),
        "Per-track attribute models, e.g. [{color: model}, {type: model}].",
    ),
    Key(
        "MOT.DYNAMIC_ATTRIBUTES",
        [],
        ck.attribute_models(),
        "Per-frame attributes, [{speed: ''}]; speed is computed whenever MOT.CALIBRATION is set.",
    ),
    Key(
        "MOT.ATTRIBUTE_ALLOW_PICKLE",
        False,
        ck.is_bool(),
        "Permit whole torch modules (.pt/.pth) as attribute models (unpickling executes code from the file).",
    ),
    Key("MOT.ATTRIBUTE_INFER_BATCHSIZE", 16, ck.positive_int(), "Crops per attribute inference call."),
    Key(
        "MOT.ATTRIBUTE_INFER_FP16",
        False,
        ck.is_bool(),
        "Half precision for attribute models where supported.",
    ),
    Key(
        "MOT.CALIBRATION",
        "",
        ck.is_str(),
        "Homography file (image -> ground metres) for speed.",
        path="input",
    ),
    Key("MOT.ZONE_MASK_DIR", "", ck.is_str(), "Directory of zone mask images.", path="input"),
    Key(
        "MOT.VALID_ZONEPATHS",
        [],
        ck.zone_paths(),
        "Zone paths a track must match to be kept; empty keeps all.",
    ),
    Key(
        "MOT.SPEED_WINDOW",
        1.0,
        ck.float_range(0.0, None, lo_open=True),
        "Seconds of track over which each frame's speed is fitted (needs MOT.CALIBRATION).",
    ),
    Key("MOT.ENABLE_ALPR", False, ck.is_bool(), "Read licence plates on this camera."),
    Key("MOT.ALPR_BACKEND", "rapidocr", ck.one_of("rapidocr", "fast_alpr"), "Licence-plate reader."),
    Key(
        "MOT.ALPR_LOCALISER",
        "text",
        ck.one_of("text", "openvino"),
        "rapidocr: find the plate by text detection, or by the OpenVINO plate detector.",
    ),
    Key(
        "MOT.ALPR_SAMPLES_PER_TRACK",
        2,
        ck.positive_int(),
        "Plate reads per track, on its largest sampled crops.",
    ),
    Key(
        "MOT.ALPR_MIN_WIDTH",
        100,
        ck.non_negative_int(),
        "Vehicle crops narrower than this many pixels are not read (their plate is too small).",
    ),
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
        0.5,
        ck.float_range(-1.0, 1.0),
        "Clustering stops when no compatible pair is this similar.",
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
        0.5,
        ck.float_range(-1.0, 1.0),
        "Similarity two fragments of one camera need to be joined (the larger of this and "
        "MIN_SIM): look-alike vehicles passing one camera seconds apart stay apart.",
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

SCHEMA_BY_NAME: dict[str, Key] = {k.name: k for k in SCHEMA}

# Keys a camera entry may set besides the MOT overrides.
CAMERA_ONLY_KEYS = {"name": ck.is_str()}


def get_cfg_defaults() -> CfgNode:
    """A fresh, mutable yacs tree holding every default."""
    root = CfgNode()
    for key in SCHEMA:
        *parents, leaf = key.name.split(".")
        node = root
        for part in parents:
            if part not in node:
                node[part] = CfgNode()
            node = node[part]
        node[leaf] = _copy(key.default)
    return root


def _copy(value: Any) -> Any:
    return [_copy(v) for v in value] if isinstance(value, list) else value
