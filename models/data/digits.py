"""scikit-learn's bundled 8x8 digits (1797 images, 10 classes), the default data.

Pixels 0..16 are scaled to [0, 1].  The split is fixed: a stratified quarter
(450 images) held out for test, `random_state=0`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

TEST_FRACTION = 0.25
SPLIT_SEED = 0


def digits_arrays(train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 8, 8) float32 in [0, 1] and labels (N,) int64 of one split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(images, data.target, test_size=TEST_FRACTION,
                                              stratify=data.target, random_state=SPLIT_SEED)
    return (x_tr, y_tr.astype(np.int64)) if train else (x_te, y_te.astype(np.int64))


def digits(train: bool) -> TensorDataset:
    x, y = digits_arrays(train)
    return TensorDataset(torch.from_numpy(x[:, None]), torch.from_numpy(y))
