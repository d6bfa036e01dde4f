"""Training a vehicle ReID model on CPU (``mtmc-train-reid``): data sources, model, losses, loop, export.

Modules by concern: ``sources`` (labelled crop folders and held-out splits), ``pseudo`` (tracker
tracklets of unlabelled footage as pseudo-identities), ``augment`` (crop augmentation), ``model``
(MobileNetV2 + BNNeck), ``losses`` (label-smoothed ID loss, batch-hard triplet), ``loop`` (P x K
training), ``bank`` (cached frozen-trunk maps of pre-augmented views), ``export`` (ONNX with its
input convention, fp16 weights). Needs the ``torch`` extra.
"""
