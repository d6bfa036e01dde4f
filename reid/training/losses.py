"""ReID losses: ID cross-entropy with label smoothing and the batch-hard triplet loss.

The triplet loss takes a mask of pairs that are *known* to be different vehicles: with pseudo-labels
from a tracker, two tracklets of one camera that never coexist may be the same car (a broken track),
so only tracklets seen at the same moment count as negatives (``Sample.span``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812


def id_loss(logits: torch.Tensor, labels: torch.Tensor, smoothing: float = 0.1) -> torch.Tensor:
    return F.cross_entropy(logits, labels, label_smoothing=smoothing)


def batch_hard_triplet(
    features: torch.Tensor, labels: torch.Tensor, negatives: torch.Tensor | None = None, margin: float = 0.3
) -> torch.Tensor:
    """Mean over anchors of ``max(0, hardest positive - hardest negative + margin)`` (Hermans et al. 2017).

    Args:
        features: (N, D) embeddings, L2-normalised here (distances on the unit sphere).
        labels: (N,) identity indices.
        negatives: (N, N) bool, pairs allowed as negatives; default every pair of different labels.
    Anchors with no positive or no allowed negative are left out.
    """
    unit = F.normalize(features, dim=1)
    distance = torch.cdist(unit, unit)
    same = labels[:, None] == labels[None, :]
    allowed = ~same if negatives is None else negatives & ~same
    positive = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    hardest_pos = torch.where(positive, distance, torch.zeros_like(distance)).amax(dim=1)
    hardest_neg = torch.where(allowed, distance, torch.full_like(distance, 1e4)).amin(dim=1)
    valid = positive.any(dim=1) & allowed.any(dim=1)
    if not valid.any():
        return features.sum() * 0.0
    return F.relu(hardest_pos - hardest_neg + margin)[valid].mean()
