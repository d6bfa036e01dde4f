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
    """

    xyxy: np.ndarray
    score: np.ndarray
    class_id: np.ndarray
    embedding: np.ndarray | None = None

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
        return Detections(self.xyxy[index], self.score[index], self.class_id[index], emb)

    def filter(self, keep: npt.NDArray[np.bool_]) -> Detections:
        return self[np.asarray(keep, dtype=bool)]

    def with_embedding(self, embedding: np.ndarray) -> Detections:
        return Detections(self.xyxy, self.score, self.class_id, embedding)

    @property
    def xywh(self) -> np.ndarray:
        """(N, 4) float32 ``x, y, w, h`` (top-left corner, width, height)."""
        out = self.xyxy.copy()
        out[:, 2:] -= out[:, :2]
        return out

    @staticmethod
    def merge(parts: Sequence[Detections]) -> Detections:
        """Concatenate rows; empty parts are skipped, embeddings kept only if every part has them."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Detections.empty()
        embs = [p.embedding for p in parts]
        emb = np.concatenate(embs) if all(e is not None for e in embs) else None
        return Detections(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.score for p in parts]),
            np.concatenate([p.class_id for p in parts]),
            emb,
        )
