"""Configuration keys of one camera's tracking, outputs and attributes (``MOT.*``)."""

from __future__ import annotations

from config import checks as ck
from config.key import (
    TRACKERS,
    Key,
)

TRACKING_KEYS: tuple[Key, ...] = (
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
        "xywh",
        ck.one_of("xyah", "xywh"),
        "Kalman box state: xyah (centre, aspect ratio, height; ByteTrack) or xywh (centre, width, "
        "height; BoT-SORT). xywh with the gated direction term measured better on KITTI (HOTA "
        "71.56 vs 67.91, 77 vs 82 ID switches) and S02 (0.7562 vs 0.7416) and equal on c010.",
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
        0.3,
        ck.float_range(0.0, 1.0),
        "OC-SORT's velocity direction consistency in the first association: a detection in the "
        "direction a track moved between its last observations gains up to half this weight "
        "(times its score) of IoU cost, one behind it loses as much (0 disables; 0.3 with "
        "DIRECTION_KEEP_GATE measured better on KITTI and equal on S02 and c010).",
    ),
    Key(
        "MOT.BYTETRACK.DIRECTION_DELTA",
        1,
        ck.int_range(1, 10),
        "With DIRECTION_WEIGHT: observations between the two a track's direction is measured from "
        "(OC-SORT's delta_t); the detection's way is taken from the older one. More than 1 averages "
        "out box jitter.",
    ),
    Key(
        "MOT.BYTETRACK.DIRECTION_MIN_MOVE",
        0.0,
        ck.float_range(0.0, 10.0),
        "With DIRECTION_WEIGHT: box heights a track must have moved over DIRECTION_DELTA "
        "observations for its direction to count fully; less counts proportionally (a stopped car's "
        "direction is jitter). 0: any move counts fully.",
    ),
    Key(
        "MOT.BYTETRACK.DIRECTION_KEEP_GATE",
        True,
        ck.is_bool(),
        "With DIRECTION_WEIGHT: the direction term only re-ranks pairs inside the IoU gate and never "
        "pushes one out of it (OC-SORT gates on IoU alone), so a wrong direction cannot lose a track.",
    ),
    Key(
        "MOT.BYTETRACK.NSA_KALMAN",
        False,
        ck.is_bool(),
        "StrongSORT's NSA Kalman filter: a detection's measurement noise is scaled by (1 - score), "
        "at least NSA_FLOOR, so confident boxes correct the state more.",
    ),
    Key(
        "MOT.BYTETRACK.NSA_FLOOR",
        0.05,
        ck.float_range(0.0, 1.0, lo_open=True),
        "With NSA_KALMAN: the smallest noise scale, however confident the box (1 makes NSA a no-op).",
    ),
    Key(
        "MOT.BYTETRACK.LOST_IOU_BUFFER",
        0.0,
        ck.float_range(0.0, 2.0),
        "C-BIoU for lost tracks: in the first association a lost track's box and the detections are "
        "both grown by this fraction of their width and height on each side, so a track that drifted "
        "while unseen still overlaps its vehicle (0 disables).",
    ),
    Key(
        "MOT.BYTETRACK.DELETION_HITS",
        8,
        ck.non_negative_int(),
        "Track-confidence-aware deletion: a lost track with fewer matches than this is kept only "
        "that fraction of TRACK_BUFFER (a short, uncertain track does not wait to steal a "
        "detection; 0 disables; 8 with the xywh filter keeps S02 at 36 ID switches where 5 gives 38).",
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
)
