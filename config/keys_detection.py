"""Configuration keys of one camera's input, detection and ReID (``MOT.*``)."""

from __future__ import annotations

from config import checks as ck
from config.key import (
    COCO_VEHICLES,
    DETECTOR_BACKENDS,
    DETECTOR_OUTPUT_FORMATS,
    REID_BACKENDS,
    Key,
)

DETECTION_KEYS: tuple[Key, ...] = (
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
        "vehicle_reid_mnv2_aic_vn2cam.onnx",
        ck.is_str(),
        "ReID model for the onnxruntime and openvino backends; the default ships in models/, trained "
        "for vehicles on vn2cam and AI City crops, so research use in practice; "
        "vehicle_reid_mnv2_vn2cam.onnx (also shipped) is trained on openly licensed data only "
        "(docs/models-reid-training.md); when unset, a vehicle ReID model downloaded by "
        "mtmc-download-models wins over the default (docs/reid.md).",
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
    Key(
        "MOT.COLOR_HIST_BINS",
        [16, 3, 3],
        ck.list_of(ck.int_range(1, 64), 3),
        "Colour histogram of each sampled crop (reid/color.py): [hue, saturation, value] bins of HSV "
        "(MTMC blends it in with MTMC.COLOR_WEIGHT; the tracklet files keep it).",
    ),
    Key(
        "MOT.COLOR_HIST_MARGIN",
        0.25,
        ck.float_range(0.0, 0.45),
        "Fraction of the box width and height cut from each side before the colour histogram "
        "(0.25: the central half; borders are road, shadow and neighbours).",
    ),
    Key(
        "MOT.COLOR_HIST_GREY_BINS",
        16,
        ck.int_range(0, 64),
        "With N > 0, greyish or dark pixels (saturation or value below 40) leave the HSV bins for N "
        "grey-level bins of their value: white, grey and black vehicles separate, and a camera's colour "
        "cast does not scatter them over hues (0: plain HSV bins).",
    ),
    Key(
        "MOT.COLOR_HIST_WHITE_BALANCE",
        False,
        ck.is_bool(),
        "White-balance each crop on its border (the road around the vehicle, outside "
        "MOT.COLOR_HIST_MARGIN) before the colour histogram, so a camera's colour cast cancels; "
        "neutral to slightly worse on footage whose cameras render colours alike (docs/reid.md).",
    ),
)
