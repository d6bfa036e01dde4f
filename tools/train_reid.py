"""Train a vehicle ReID model on CPU from labelled crops and/or unlabelled footage; export it to ONNX.

    mtmc-train-reid --labelled ../shared/data/reid_vn2cam/labels.csv,split=train,holdout=60 \
        --labelled ../shared/data/aic_s01_c001_crops/labels.csv,holdout=15 \
        --video my_camera.mp4 --eval ../shared/data/reid_vn2cam/labels.csv,split=test,name=vn2cam-test \
        --output models/my_reid.onnx
    mtmc-train-reid --score models/my_reid.onnx --eval ...   # only the retrieval table of a model

Sources are ``PATH[,key=value...]``:
  --labelled  labels.csv (path,vehicle_id,camera_id[,split][,frame]) or a folder of VeRi-style
              ``ID_cCAM_*.jpg`` crops; keys ``split=`` (rows of that split), ``holdout=N`` (N vehicles
              left out of training and scored at the end), ``name=``.
  --video     unlabelled footage: the project's tracker runs on it (``--tracker-config``, default the
              project's defaults) and each tracklet becomes a pseudo-identity; key ``name=``.
  --unlabelled  crops of several cameras without vehicle ids: labels.csv of path,camera_id
              [,track_id][,frame|time]; keys ``split=``, ``name=``, ``truth=COLUMN`` (a column used only
              to report pseudo-label precision, never to choose pairs). Needs ``--rounds``.
  --eval      a labelled set scored at the end (never trained on); keys ``split=``, ``name=``,
              ``cameras=halves`` (one camera: each vehicle's earlier vs later crops as two cameras).
With ``--rounds N`` the unlabelled cameras (every --video together, each --unlabelled folder) go
through N rounds of cross-camera pseudo-labelling: embed, centre per camera, mine confident pairs
(``--pair-*``, inside ``--layout``'s windows when given), train on the clusters, repeat.
The end of a run prints cross-camera Rank-1 / Rank-5 / mAP (``reid.retrieval``) of the starting
ImageNet feature and of the trained model on every held-out and --eval set. Recipe and evidence:
docs/models-reid-training.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("tools.train_reid")

LABELLED_KEYS = {"split", "holdout", "name"}
VIDEO_KEYS = {"name"}
EVAL_KEYS = {"split", "name", "cameras"}
UNLABELLED_KEYS = {"split", "name", "truth"}


def parse_spec(text: str, allowed: set[str], flag: str) -> tuple[Path, dict[str, str]]:
    """``PATH[,key=value...]`` -> (path, options); unknown keys raise ``ValueError`` naming the flag."""
    path, *pairs = text.split(",")
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in allowed:
            raise ValueError(
                f"{flag} {text}: expected PATH[,key=value] with keys {sorted(allowed)}, got {pair!r}"
            )
        options[key] = value
    if not Path(path).exists():
        raise ValueError(f"{flag} {text}: {path} does not exist")
    return Path(path), options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--labelled", action="append", default=[], metavar="SPEC", help="labelled crops (repeatable)")
    add("--video", action="append", default=[], metavar="SPEC", help="unlabelled footage (repeatable)")
    add("--unlabelled", action="append", default=[], metavar="SPEC", help="unlabelled multi-camera crops")
    add("--eval", action="append", default=[], metavar="SPEC", help="labelled set to score (repeatable)")
    add("--rounds", type=int, default=0, help="cross-camera pseudo-label rounds (0: single-camera tracklets)")
    add("--layout", type=Path, help="camera layout of the --video cameras (in flag order) or crop cameras")
    add("--pair-k", type=int, default=1, help="pairs must be k-reciprocal neighbours across cameras")
    add("--pair-min-sim", type=float, default=0.3, help="least cosine of a pair (per-camera centred)")
    add("--pair-margin", type=float, default=0.05, help="least lead of a pair over either's runner-up")
    add("--output", type=Path, help="ONNX file to write (the trained embedding)")
    add("--score", type=Path, help="only score this ONNX model on the --eval sets (no training)")
    add("--tracker-config", type=Path, help="config for tracking --video (default: project defaults)")
    add("--weights", default="mobilenetv2_imagenet_features.pt", help="starting MobileNetV2 weights")
    add("--input-size", type=int, nargs=2, default=(224, 224), metavar=("H", "W"))
    add("--trainable-blocks", type=int, default=5, help="last backbone stages trained (1..19)")
    add("--steps", type=int, default=400)
    add("--p", type=int, default=16, help="identities per batch")
    add("--k", type=int, default=4, help="crops per identity per batch")
    add("--lr", type=float, default=3.5e-4)
    add("--max-minutes", type=float, default=15.0, help="stop training after this long")
    add(
        "--bank",
        type=int,
        default=0,
        metavar="VIEWS",
        help="cache the frozen stages' output for VIEWS augmented views per crop (0: augment every step)",
    )
    add("--map-erase", type=float, default=0.0, help="with --bank: erase cached maps, probability")
    add(
        "--downscale",
        type=float,
        default=0.0,
        metavar="P",
        help="augmentation: with probability P, a low-resolution copy (0.25-1x, upscaled back)",
    )
    add("--per-track", type=int, default=16, help="crops sampled along each tracklet of --video")
    add("--fp16", action=argparse.BooleanOptionalAction, default=True, help="store weights as float16")
    add("--threads", type=int, default=2, help="torch CPU threads")
    add("--seed", type=int, default=0)
    add("--json", type=Path, help="write the retrieval table as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S"
    )
    if (args.output is None) == (args.score is None):
        log.error("give exactly one of --output (train) or --score (score a model)")
        return 2
    for flag in ("map_erase", "downscale"):
        if not 0.0 <= getattr(args, flag) <= 1.0:
            log.error(
                "--%s: expected a probability in [0, 1], got %g", flag.replace("_", "-"), getattr(args, flag)
            )
            return 2
    try:
        table = score_only(args) if args.score is not None else train_and_export(args)
    except ImportError as err:  # training needs the torch extra; scoring needs only the core install
        log.error("%s: training needs the torch extra (pip install 'vehicle-mtmc[torch]')", err)
        return 2
    except (ValueError, OSError) as err:
        log.error("%s", err)
        return 2
    if args.json:
        args.json.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    return 0


def labelled_sets(args: argparse.Namespace) -> tuple[list[Any], list[tuple[str, list[Any]]]]:
    """(training samples, [(name, samples)] scored at the end) of --labelled and --eval."""
    from reid.training.sources import hold_out, labelled_samples, time_halves_as_cameras

    train, scored = [], []
    for text in args.labelled:
        path, opts = parse_spec(text, LABELLED_KEYS, "--labelled")
        samples = labelled_samples(path, opts.get("split"), opts.get("name", ""))
        kept, held = hold_out(samples, int(opts.get("holdout", 0)), args.seed)
        train += kept
        if held:
            one_camera = len({s.camera for s in held}) == 1
            scored.append(
                (f"{held[0].source} held-out", time_halves_as_cameras(held) if one_camera else held)
            )
    for text in args.eval:
        path, opts = parse_spec(text, EVAL_KEYS, "--eval")
        samples = labelled_samples(path, opts.get("split"), opts.get("name", ""))
        if opts.get("cameras") == "halves":
            samples = time_halves_as_cameras(samples)
        elif "cameras" in opts:
            raise ValueError(f"--eval {text}: cameras= takes 'halves', got {opts['cameras']!r}")
        scored.append((opts.get("name", samples[0].source if samples else str(path)), samples))
    return train, scored


def track_video(video: Path, config: Path | None, workdir: Path) -> Any:
    """Run the project's single-camera tracker (no appearance model) on ``video``; its tracklets."""
    from mot.exports import load_mot_txt
    from mot.run_tracker import main as run_tracker
    from reid.training.pseudo import Tracks

    if config is None:
        config = workdir / "tracker.yaml"
        config.write_text("MOT:\n  REID_BACKEND: none\n", encoding="utf-8")
    out = workdir / video.stem
    overrides = ["OUTPUT_DIR", str(out), "MOT.VIDEO", str(video.resolve()), "MOT.REID_BACKEND", "none"]
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    try:
        code = run_tracker(["--config", str(config), "--log-level", "WARNING", *overrides])
    finally:  # the tracker's CLI replaces the logging set-up: give ours back
        root.handlers[:] = handlers
        root.setLevel(level)
    if code != 0:
        raise ValueError(f"{video}: the tracker failed (see the messages above)")
    tracklets = load_mot_txt(out / "mot.txt").tracklets
    if not tracklets:
        raise ValueError(f"{video}: the tracker found no tracklets to learn from")
    return Tracks(
        np.concatenate([t.frames for t in tracklets]),
        np.concatenate([np.full(len(t), t.track_id) for t in tracklets]),
        np.concatenate([t.bboxes for t in tracklets]).astype(np.float64),
    )


def footage_samples(args: argparse.Namespace, workdir: Path) -> list[list[Any]]:
    """Pseudo-identities (one per quality-filtered tracklet) of each --video."""
    from reid.training.pseudo import Quality, pseudo_samples

    samples = []
    for text in args.video:
        path, opts = parse_spec(text, VIDEO_KEYS, "--video")
        found = pseudo_samples(
            path,
            track_video(path, args.tracker_config, workdir),
            Quality(per_track=args.per_track),
            opts.get("name", ""),
        )
        log.info("%s: %d crops of %d tracklets", path, len(found), len({s.identity for s in found}))
        samples.append(found)
    return samples


def loop_options(args: argparse.Namespace) -> tuple[Any, Any]:
    """(pair miner options, the layout's pair rules or None) of the pseudo-label flags; ``ValueError``
    names a bad one."""
    from config.layout import parse_layout
    from mtmc.compatibility import LayoutPairs
    from reid.training.crosscam import MinerOptions

    if args.rounds < 0:
        raise ValueError(f"--rounds {args.rounds}: expected 0 (no cross-camera pseudo-labels) or more")
    if args.rounds < 1 and (args.unlabelled or args.layout):
        raise ValueError("--unlabelled and --layout are only used by the pseudo-label loop: give --rounds N")
    miner = MinerOptions(args.pair_k, args.pair_min_sim, args.pair_margin)
    return miner, LayoutPairs(parse_layout(args.layout)) if args.layout else None


def unlabelled_scenes(args: argparse.Namespace, videos: list[list[Any]], layout: Any) -> list[Any]:
    """The scenes the pseudo-label rounds mine: every --video as one (camera i = i-th video), and
    each --unlabelled crop folder."""
    from reid.training.scene import build_scene, unlabelled_crops, video_scene

    scenes = [video_scene(videos, layout)] if videos else []
    for text in args.unlabelled:
        path, opts = parse_spec(text, UNLABELLED_KEYS, "--unlabelled")
        samples, spans, truth, seconds = unlabelled_crops(
            path, opts.get("split"), opts.get("name", ""), opts.get("truth", "")
        )
        scenes.append(build_scene(samples[0].source, samples, spans, layout, truth, seconds))
    for scene in scenes:
        if len(set(scene.camera)) < 2:
            raise ValueError(f"{scene.name}: cross-camera pseudo-labels need crops of two cameras or more")
    return scenes


def settings_of(args: argparse.Namespace) -> Any:
    from reid.training.augment import Augment
    from reid.training.loop import TrainSettings

    return TrainSettings(
        input_size=tuple(args.input_size),
        trainable_blocks=args.trainable_blocks,
        steps=args.steps,
        p=args.p,
        k=args.k,
        lr=args.lr,
        max_minutes=args.max_minutes,
        seed=args.seed,
        bank=args.bank,
        map_erase=args.map_erase,
        augment=Augment(downscale=args.downscale),
    )


def train_and_export(args: argparse.Namespace) -> list[dict[str, Any]] | dict[str, Any]:
    import torch

    from models.registry import resolve_model
    from reid.training.export import export_embedding
    from reid.training.loop import embed, score, train
    from reid.training.model import embedding_of, load_backbone

    torch.set_num_threads(args.threads)
    weights = resolve_model(args.weights)
    train_samples, scored = labelled_sets(args)
    miner, layout = loop_options(args)  # checked before any tracking
    with tempfile.TemporaryDirectory() as tmp:
        videos = footage_samples(args, Path(tmp))
    crosscam_videos = videos if args.rounds > 0 and len(videos) > 1 else []
    if not crosscam_videos:  # single-camera tracklets as they are
        if args.rounds > 0 and videos:
            log.warning("--rounds: one --video is one camera; its tracklets are trained on as they are")
        train_samples += [s for found in videos for s in found]
    scenes = unlabelled_scenes(args, crosscam_videos, layout) if args.rounds > 0 else []
    if not train_samples and not scenes:
        raise ValueError("nothing to train on: give --labelled, --video and/or --unlabelled")
    settings = settings_of(args)

    def report(step: int, loss: float, triplet: float) -> None:
        if step % 25 == 0 or step == settings.steps - 1:
            log.info("step %d/%d: loss %.3f (triplet %.3f)", step + 1, settings.steps, loss, triplet)

    rounds: list[dict[str, Any]] = []
    if scenes:
        from reid.training.rounds import pseudo_label_rounds

        embedding, losses, reports = pseudo_label_rounds(
            scenes, train_samples, settings, weights, args.rounds, miner, report
        )
        rounds = [r.as_dict() for r in reports]
        train_samples += [s for scene in scenes for s in scene.samples]
    else:
        net, losses = train(train_samples, settings, weights, report)
        embedding = embedding_of(net)
    recipe = {**recipe_of(args, train_samples, len(losses)), "pseudo_label_rounds": rounds}
    export_embedding(embedding, args.output, settings.input_size, args.fp16, recipe)
    log.info("wrote %s", args.output)
    start = load_backbone(weights)
    table = []
    for name, samples in scored:
        for model_name, module in (("start (ImageNet)", start), ("trained", embedding)):
            result = score(embed(module, samples, settings.input_size), samples)
            table.append({"set": name, "model": model_name, **result.as_dict()})
    print(format_table(table))
    return {"retrieval": table, "pseudo_labels": rounds} if rounds else table


def recipe_of(args: argparse.Namespace, samples: list[Any], steps: int) -> dict[str, Any]:
    """What the ONNX metadata records about how the model was trained."""
    sources: dict[str, dict[str, int]] = {}
    for s in samples:
        entry = sources.setdefault(s.source, {"crops": 0, "pseudo": int(s.span is not None)})
        entry["crops"] += 1
    for name, entry in sources.items():
        entry["identities"] = len({s.identity for s in samples if s.source == name})
    return {
        "sources": sources,
        "labelled": args.labelled,
        "video": args.video,
        "unlabelled": args.unlabelled,
        "rounds": args.rounds,
        "pairs": {"k": args.pair_k, "min_sim": args.pair_min_sim, "margin": args.pair_margin},
        "layout": str(args.layout) if args.layout else None,
        "steps_run": steps,
        "input_size": list(args.input_size),
        "trainable_blocks": args.trainable_blocks,
        "steps": args.steps,
        "p": args.p,
        "k": args.k,
        "lr": args.lr,
        "bank": args.bank,
        "map_erase": args.map_erase,
        "downscale": args.downscale,
        "seed": args.seed,
        "weights": str(args.weights),
    }


def score_only(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Retrieval of an existing ONNX/IR model (run as the pipeline runs it) on the --eval sets."""
    from reid.factory import build_embedder
    from reid.training.loop import load_image, score

    _, scored = labelled_sets(args)
    embedder = build_embedder(
        "onnxruntime", str(args.score), input_size=args.input_size, threads=args.threads
    )
    table = []
    for name, samples in scored:
        features = embedder.embed_crops([load_image(s.image) for s in samples])
        table.append({"set": name, "model": args.score.name, **score(features, samples).as_dict()})
    print(format_table(table))
    return table


def format_table(table: list[dict[str, Any]]) -> str:
    lines = [f"{'set':<28} {'model':<22} {'queries':>7} {'Rank-1':>7} {'Rank-5':>7} {'mAP':>7}"]
    for row in table:
        lines.append(
            f"{row['set']:<28} {row['model']:<22} {row['queries']:>7d} {row['rank1']:>7.3f} "
            f"{row['rank5']:>7.3f} {row['mAP']:>7.3f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
