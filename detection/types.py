"""``Detections``: the boxes of one frame as parallel arrays.

Row ``i`` of every field is the same object, and rows are only ever dropped through
``filter``/``__getitem__``, so boxes, scores, classes and embeddings cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Index = int | slice | Sequence[int] | npt.NDArray[np.integer] | npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Detections:
    """Detections of one frame.

    Attributes:
        xyxy: (N, 4) float32 boxes ``x1, y1, x2, y2`` in pixels of the original frame.
        score: (N,) float32 detector confidence in [0, 1].
        class_id: (N,) int64 class ids (COCO unless the detector declares its own classes).
        embedding: optional (N, D) float32 appearance features, L2-normalised.
        class_scores: optional (N, C) float32; column ``c`` is the best score class ``c`` had among
            the raw boxes merged into row ``i`` by NMS (0 when none), so that a vehicle the
            detector called car 0.58 / bus 0.57 / truck 0.54 keeps that evidence for the
            track's type vote although only one box (class car) is kept.
    """

    xyxy: np.ndarray
    score: np.ndarray
    class_id: np.ndarray
    embedding: np.ndarray | None = None
    class_scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4))
        object.__setattr__(self, "score", np.asarray(self.score, dtype=np.float32).reshape(-1))
        object.__setattr__(self, "class_id", np.asarray(self.class_id, dtype=np.int64).reshape(-1))
        n = len(self.xyxy)
        for name in ("score", "class_id"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"Detections.{name}: expected {n} rows like xyxy, got {len(getattr(self, name))}"
                )
        if self.embedding is not None:
            emb = np.asarray(self.embedding, dtype=np.float32)
            if emb.ndim != 2 or len(emb) != n:
                raise ValueError(f"Detections.embedding: expected shape ({n}, D), got {emb.shape}")
            object.__setattr__(self, "embedding", emb)
        if self.class_scores is not None:
            scores = np.asarray(self.class_scores, dtype=np.float32)
            if scores.ndim != 2 or len(scores) != n:
                raise ValueError(f"Detections.class_scores: expected shape ({n}, C), got {scores.shape}")
            object.__setattr__(self, "class_scores", scores)

    @classmethod
    def empty(cls, embedding_dim: int | None = None) -> Detections:
        emb = None if embedding_dim is None else np.zeros((0, embedding_dim), np.float32)
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), emb)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Index) -> Detections:
        """Rows selected by an int, slice, index list or boolean mask, for every field at once."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        if isinstance(index, np.ndarray) and index.dtype == bool and len(index) != len(self):
            raise IndexError(f"Detections: boolean mask of length {len(index)} for {len(self)} rows")
        emb = None if self.embedding is None else self.embedding[index]
        votes = None if self.class_scores is None else self.class_scores[index]
        return Detections(self.xyxy[index], self.score[index], self.class_id[index], emb, votes)

    def filter(self, keep: npt.NDArray[np.bool_]) -> Detections:
        return self[np.asarray(keep, dtype=bool)]

    def with_embedding(self, embedding: np.ndarray) -> Detections:
        return Detections(self.xyxy, self.score, self.class_id, embedding, self.class_scores)

    def with_boxes(self, xyxy: np.ndarray) -> Detections:
        """The same rows with other boxes (shifted from a tile, clipped, ...)."""
        return Detections(xyxy, self.score, self.class_id, self.embedding, self.class_scores)

    @property
    def xywh(self) -> np.ndarray:
        """(N, 4) float32 ``x, y, w, h`` (top-left corner, width, height)."""
        out = self.xyxy.copy()
        out[:, 2:] -= out[:, :2]
        return out

    @staticmethod
    def merge(parts: Sequence[Detections]) -> Detections:
        """Concatenate rows; empty parts are skipped, embeddings and class scores kept only if
        every part has them (class-score tables of different widths are zero-padded)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Detections.empty()
        embs = [p.embedding for p in parts]
        emb = np.concatenate(embs) if all(e is not None for e in embs) else None
        votes = None
        if all(p.class_scores is not None for p in parts):
            width = max(p.class_scores.shape[1] for p in parts)  # type: ignore[union-attr]
            votes = np.concatenate(
                [np.pad(p.class_scores, ((0, 0), (0, width - p.class_scores.shape[1]))) for p in parts]  # type: ignore[union-attr]
            )
        return Detections(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.score for p in parts]),
            np.concatenate([p.class_id for p in parts]),
            emb,
            votes,
        )
