"""P x K training of ``ReidNet`` on CPU, and embedding/scoring crops with a trained network.

Each step draws P identities and K crops of each (with replacement for identities with fewer), so
every batch holds positives and negatives for the batch-hard triplet loss. Adam with a linear
warm-up then cosine decay; the run stops after ``steps`` or ``max_minutes``, whichever comes first.
With ``bank`` > 0 the frozen stages run once per pre-augmented view before training
(``reid.training.bank``), not on every step.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from reid.retrieval import RetrievalScores, cross_camera_retrieval
from reid.training.augment import Augment, normalise, resize, training_batch
from reid.training.bank import build_bank
from reid.training.losses import batch_hard_triplet, id_loss
from reid.training.model import Embedding, ReidNet, load_backbone
from reid.training.pseudo import known_negatives
from reid.training.sources import Sample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters of one run (CLI flags of ``mtmc-train-reid`` of the same names)."""

    input_size: tuple[int, int] = (224, 224)
    trainable_blocks: int = 5
    steps: int = 400
    p: int = 16
    k: int = 4
    lr: float = 3.5e-4
    weight_decay: float = 5e-4
    warmup: float = 0.1  # fraction of the steps
    smoothing: float = 0.1
    margin: float = 0.3
    max_minutes: float = 15.0
    seed: int = 0
    augment: Augment = field(default_factory=Augment)
    bank: int = 0  # augmented views per crop cached through the frozen trunk; 0: augment every step
    map_erase: float = 0.0  # bank only: random erasing of the cached maps at every step


def load_image(image: Path | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray):
        return image
    crop = cv2.imread(str(image))
    if crop is None:
        raise ValueError(f"{image}: cannot read image")
    return crop


def resized_crops(samples: Sequence[Sample], size_hw: tuple[int, int]) -> np.ndarray:
    """(N, H, W, 3) uint8 BGR: every sample's crop resized once to the input size."""
    out = np.empty((len(samples), size_hw[0], size_hw[1], 3), np.uint8)
    for i, sample in enumerate(samples):
        out[i] = resize(load_image(sample.image), size_hw)
    return out


def pk_indices(labels: np.ndarray, p: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """P identities (those with 2+ crops first) x K crop indices each, as one (P*K,) array."""
    by_label = [np.flatnonzero(labels == label) for label in np.unique(labels)]
    multi = [rows for rows in by_label if len(rows) > 1] or by_label
    picked = rng.choice(len(multi), size=min(p, len(multi)), replace=False)
    return np.concatenate([rng.choice(multi[i], size=k, replace=len(multi[i]) < k) for i in picked])


def cosine_lr(step: int, steps: int, base: float, warmup: float) -> float:
    warm = max(1, int(steps * warmup))
    if step < warm:
        return base * (step + 1) / warm
    return base * 0.5 * (1 + np.cos(np.pi * (step - warm) / max(1, steps - warm)))


def train(
    samples: Sequence[Sample],
    settings: TrainSettings,
    weights: Path | None,
    on_step: Callable[[int, float, float], None] | None = None,
    start: Embedding | None = None,
) -> tuple[ReidNet, list[float]]:
    """Train on ``samples``; returns the network and the loss of every step.

    ``start``: continue from this trained embedding (backbone and BNNeck) instead of ``weights``, with a
    new classifier (the pseudo-label rounds: their identities change every round).
    """
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    identities = sorted({s.identity for s in samples})
    labels = np.searchsorted(identities, [s.identity for s in samples])
    crops = resized_crops(samples, settings.input_size)
    negatives = known_negatives(samples)
    backbone = load_backbone(weights) if start is None else copy.deepcopy(start.backbone)
    net = ReidNet(backbone, len(identities), settings.trainable_blocks)
    if start is not None:
        net.neck.load_state_dict(start.neck.state_dict())
    net.train()
    forward = batch_forward(net, crops, settings, rng)
    params = [p for p in net.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    losses: list[float] = []
    deadline = time.monotonic() + settings.max_minutes * 60
    log.info("training on %d crops of %d identities", len(samples), len(identities))
    for step in range(settings.steps):
        for group in optimiser.param_groups:
            group["lr"] = cosine_lr(step, settings.steps, settings.lr, settings.warmup)
        rows = pk_indices(labels, settings.p, settings.k, rng)
        target = torch.from_numpy(labels[rows])
        feature, logits = forward(rows)
        triplet = batch_hard_triplet(
            feature, target, torch.from_numpy(negatives[np.ix_(rows, rows)]), settings.margin
        )
        loss = id_loss(logits, target, settings.smoothing) + triplet
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step, losses[-1], float(triplet.detach()))
        if time.monotonic() > deadline:
            log.warning(
                "stopped after %d of %d steps: --max-minutes %g reached",
                step + 1,
                settings.steps,
                settings.max_minutes,
            )
            break
    return net.eval(), losses


def batch_forward(
    net: ReidNet, crops: np.ndarray, settings: TrainSettings, rng: np.random.Generator
) -> Callable[[np.ndarray], tuple[torch.Tensor, torch.Tensor]]:
    """rows -> (pooled feature, logits): through a feature bank if ``settings.bank``, else fresh views.

    The network and its inputs are channels-last: torch's CPU convolutions then run a step of the
    trainable stages about 1.2x faster (one thread, 64 maps of 64 x 14 x 14 through 11 stages).
    """
    net.to(memory_format=torch.channels_last)
    if settings.bank <= 0:
        return lambda rows: net(
            _channels_last(torch.from_numpy(training_batch(list(crops[rows]), settings.augment, rng)))
        )
    bank = build_bank(net.trunk, crops, settings.bank, settings.augment, rng)
    net.train()  # build_bank put the trunk in eval mode, as ReidNet.train keeps it
    return lambda rows: net.forward_maps(_channels_last(bank.batch(rows, rng, settings.map_erase)))


def _channels_last(batch: torch.Tensor) -> torch.Tensor:
    return batch.contiguous(memory_format=torch.channels_last)


def embed(
    module: torch.nn.Module, samples: Sequence[Sample], size_hw: tuple[int, int], batch: int = 64
) -> np.ndarray:
    """(N, D) features of the samples' crops through ``module`` (eval mode, no augmentation)."""
    module.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(samples), batch):
            crops = resized_crops(samples[start : start + batch], size_hw)
            out.append(module(torch.from_numpy(normalise(crops))).numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)


def score(features: np.ndarray, samples: Sequence[Sample]) -> RetrievalScores:
    """Cross-camera Rank-1/Rank-5/mAP (``reid.retrieval``) of features of ``samples``."""
    return cross_camera_retrieval(
        features, np.array([s.identity for s in samples]), np.array([s.camera for s in samples])
    )
