"""The cross-camera pseudo-label loop: embed, centre per camera, mine pairs, train on the clusters, repeat.

Each round embeds every crop of every unlabelled ``Scene`` with the current model, centres the
features per camera as MTMC does (``reid.fusion``, ``MTMC.CAMERA_NORM``), averages them into tracklet
descriptors, mines confident cross-camera pairs (``reid.training.crosscam``), joins them into
pseudo-identities, and trains on those (plus any labelled samples) from the current model. Round one
embeds with the starting weights. Identities that no pair joined stay as they were: a tracklet is one
vehicle whatever the other cameras say.

Negatives for the triplet loss follow ``reid.training.pseudo.known_negatives``: where tracklet times
are known, only tracklets seen at the same moment in one camera; where they are not (a crop folder
without times), different pseudo-identities count as different vehicles, as in a labelled crop set.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from reid.fusion import FusionOptions, centre_features
from reid.training.crosscam import (
    MinerOptions,
    mine_pairs,
    multi_camera,
    pair_precision,
    pair_recall,
    pseudo_identities,
    tracklet_descriptors,
)
from reid.training.loop import TrainSettings, embed, train
from reid.training.model import Embedding, embedding_of, load_backbone
from reid.training.scene import Scene
from reid.training.sources import Sample

log = logging.getLogger(__name__)

CAMERA_CENTRING = FusionOptions(camera_norm=True)  # MTMC's per-camera centring, no shrinkage


@dataclass(frozen=True)
class RoundReport:
    """What one round mined (precision and recall from ``Scene.truth``: reporting only, NaN without)."""

    round: int
    scene: str
    tracklets: int
    pairs: int
    precision: float
    true_pairs_found: float  # share of the true cross-camera tracklet pairs that were mined
    multi_camera_identities: int

    def as_dict(self) -> dict[str, float | int | str]:
        return dict(self.__dict__)


def label_scene(
    module: torch.nn.Module, scene: Scene, size_hw: tuple[int, int], miner: MinerOptions
) -> tuple[np.ndarray, np.ndarray, RoundReport]:
    """(tracklet identities, mined pairs as (M, 2), report of round 0) of ``scene`` under ``module``."""
    features = embed(module, scene.samples, size_hw)
    cameras = np.array([s.camera for s in scene.samples])
    centred = centre_features(features, cameras, CAMERA_CENTRING)
    descriptors = tracklet_descriptors(centred, scene.tracklet, scene.tracklets)
    pairs = mine_pairs(descriptors, scene.camera, miner, scene.allowed)
    labels = pseudo_identities(scene.tracklets, pairs, scene.cannot)
    report = RoundReport(
        0,
        scene.name,
        scene.tracklets,
        len(pairs),
        pair_precision(pairs, scene.truth) if scene.truth is not None else float("nan"),
        pair_recall(pairs, scene.truth, scene.camera) if scene.truth is not None else float("nan"),
        multi_camera(labels, scene.camera),
    )
    return labels, np.stack([pairs.i, pairs.j], axis=1), report


def clustered_samples(scene: Scene, labels: np.ndarray) -> list[Sample]:
    """The scene's crops with their pseudo-identity (``scene:id<root tracklet>``) as identity.

    An identity of a single crop (an unpaired crop of a folder without tracks) is listed twice, so
    that it enters P x K batches as a class of its own seen in two augmented views: the un-clustered
    instances that keep the ID loss from fitting a few hundred pairs (Ge et al. 2020, SpCL).
    """
    samples = [
        replace(s, identity=f"{scene.name}:id{int(labels[t])}", source=scene.name)
        for s, t in zip(scene.samples, scene.tracklet.tolist(), strict=True)
    ]
    counts = Counter(s.identity for s in samples)
    return samples + [s for s in samples if counts[s.identity] == 1]


def pseudo_label_rounds(
    scenes: Sequence[Scene],
    labelled: Sequence[Sample],
    settings: TrainSettings,
    weights: Path | None,
    rounds: int,
    miner: MinerOptions,
    on_step: Callable[[int, float, float], None] | None = None,
) -> tuple[Embedding, list[float], list[RoundReport]]:
    """Run ``rounds`` rounds; the trained embedding, every step's loss and each round's report.

    With true vehicles in any scene, the final model labels the scenes once more (report round
    ``rounds + 1``), to show how precise its pseudo-labels became. ``settings.max_minutes`` is the
    budget of the whole loop, shared equally by the rounds.
    """
    if rounds < 1:
        raise ValueError(f"rounds {rounds}: expected at least 1")
    current: torch.nn.Module = load_backbone(weights)  # the ImageNet feature: pooled, no BNNeck
    start: Embedding | None = None
    losses: list[float] = []
    reports: list[RoundReport] = []
    per_round = replace(settings, max_minutes=settings.max_minutes / rounds)
    for number in range(1, rounds + 1):
        samples = list(labelled)
        for scene in scenes:
            labels, _, report = label_scene(current, scene, settings.input_size, miner)
            reports.append(replace(report, round=number))
            log.info("round %d, %s: %s", number, scene.name, _describe(reports[-1]))
            samples += clustered_samples(scene, labels)
        net, steps = train(
            samples, replace(per_round, seed=settings.seed + number - 1), weights, on_step, start
        )
        losses += steps
        start = embedding_of(net)
        current = start
    for scene in scenes if any(s.truth is not None for s in scenes) else ():
        _, _, report = label_scene(current, scene, settings.input_size, miner)  # how good they became
        reports.append(replace(report, round=rounds + 1))
        log.info("after training, %s: %s", scene.name, _describe(reports[-1]))
    assert start is not None
    return start, losses, reports


def _describe(report: RoundReport) -> str:
    return (
        f"{report.pairs} cross-camera pairs of {report.tracklets} tracklets, "
        f"{report.multi_camera_identities} multi-camera identities, "
        f"precision {report.precision:.3f}, true pairs found {report.true_pairs_found:.3f}"
    )
