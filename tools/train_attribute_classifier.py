"""Train an attribute classifier (colour, type, ...) on ReID embeddings of labelled crops.

    python tools/train_attribute_classifier.py --attribute color --data crops/ --output models/color.npz
    python tools/train_attribute_classifier.py --attribute type --data labels.csv --output models/type.npz

``--data`` is a folder with one sub-folder of crop images per label (``crops/red/*.jpg``), or a
CSV with columns ``path,label`` (paths relative to the CSV). The crops are embedded with the
ReID model of the pipeline (``--reid-model``, default the config default) and a multinomial
logistic regression (scikit-learn) is fitted on the embeddings. A fifth of the crops, chosen
with ``--seed``, is held out and the accuracy on it is reported; the final model is then fitted
on every crop and written as plain arrays (no pickle). Use it with
``MOT.STATIC_ATTRIBUTES: [{color: models/color.npz}]`` and the same ReID model.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from config.defaults import get_cfg_defaults
from reid.attributes import EmbeddingClassifier
from reid.factory import build_embedder

log = logging.getLogger("tools.train_attribute_classifier")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def labelled_images(data: Path) -> list[tuple[Path, str]]:
    """(image path, label) from a folder of label folders or a ``path,label`` CSV."""
    if data.is_dir():
        return [
            (image, folder.name)
            for folder in sorted(p for p in data.iterdir() if p.is_dir())
            for image in sorted(folder.iterdir())
            if image.suffix.lower() in IMAGE_SUFFIXES
        ]
    table = pd.read_csv(data, dtype=str)
    missing = {"path", "label"} - set(table.columns)
    if missing:
        raise ValueError(f"{data}: missing column(s) {', '.join(sorted(missing))} (expected path,label)")
    return [
        ((data.parent / p) if not Path(p).is_absolute() else Path(p), label)
        for p, label in zip(table["path"], table["label"], strict=True)
    ]


def embed_images(items: list[tuple[Path, str]], reid_model: str) -> tuple[np.ndarray, list[str]]:
    defaults = get_cfg_defaults().MOT
    embedder = build_embedder("onnxruntime", reid_model, input_size=defaults.REID_INPUT_SIZE)
    crops, labels = [], []
    for path, label in items:
        image = cv2.imread(str(path))
        if image is None:
            raise ValueError(f"{path}: cannot read image")
        crops.append(image)
        labels.append(label)
    return embedder.embed_crops(crops), labels


def fit(
    features: np.ndarray, labels: list[str], name: str, reid_model: str, seed: int = 0
) -> tuple[EmbeddingClassifier, float]:
    """The classifier fitted on all crops, and its accuracy on a held-out fifth."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    y = np.array(labels)
    accuracy = float("nan")
    counts = pd.Series(y).value_counts()
    if len(y) >= 10 and counts.min() >= 2:
        x_train, x_test, y_train, y_test = train_test_split(
            features, y, test_size=0.2, random_state=seed, stratify=y
        )
        held_out = LogisticRegression(max_iter=2000).fit(x_train, y_train)
        accuracy = float(held_out.score(x_test, y_test))
    model = LogisticRegression(max_iter=2000).fit(features, y)
    meta = {
        "attribute": name,
        "feature_dim": int(features.shape[1]),
        "reid_model": reid_model,
        "samples": len(y),
    }
    return EmbeddingClassifier(name, model.coef_, model.intercept_, list(model.classes_), meta), accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attribute", required=True, help="attribute name, e.g. color or type")
    parser.add_argument(
        "--data", required=True, type=Path, help="folder of label folders, or a path,label CSV"
    )
    parser.add_argument("--output", required=True, type=Path, help=".npz file to write")
    parser.add_argument("--reid-model", default=get_cfg_defaults().MOT.REID_ONNX, help="ReID ONNX model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        items = labelled_images(args.data)
        if len({label for _, label in items}) < 2:
            raise ValueError(f"{args.data}: need crops of at least two labels")
        features, labels = embed_images(items, args.reid_model)
        classifier, accuracy = fit(features, labels, args.attribute, args.reid_model, args.seed)
    except (OSError, ValueError) as err:
        log.error("%s", err)
        return 2
    classifier.save(args.output)
    log.info(
        "%s: %d crops, classes %s, held-out accuracy %.3f -> %s",
        args.attribute,
        len(labels),
        ", ".join(classifier.classes),
        accuracy,
        args.output,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
