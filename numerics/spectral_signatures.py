"""Spectral Signatures (Tran, Li & Madry, NeurIPS 2018), implemented from the paper's
description.

For each label class ``y``: take the representations ``R_i`` of the training samples
labelled ``y``, their mean ``mu``, the centred matrix ``M = [R_i - mu]`` and its top right
singular vector ``v``; score each sample by its *outlier score*; remove the samples with
the ``1.5 * eps * n_y`` largest scores, where ``eps`` is an upper bound on the poison
fraction the defender expects.

Two scoring variants, because public implementations differ:

``"centred"``
    ``score_i = ((R_i - mu) . v)^2`` -- the paper's Algorithm 1.
``"uncentred"``
    ``score_i = (R_i . v)^2`` with the same ``v`` (the top singular vector of the
    *centred* matrix), as in the authors' released code, which projects the raw
    representations.  The ranking differs from the centred one whenever ``mu . v != 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["VARIANTS", "outlier_scores", "SignatureResult", "spectral_signatures",
           "detection_metrics"]

VARIANTS = ("centred", "uncentred")


def _as_matrix(R, name: str) -> np.ndarray:
    if isinstance(R, torch.Tensor):
        R = R.detach().cpu().numpy()
    A = np.asarray(R, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (samples, features); got shape {A.shape}")
    if not np.isfinite(A).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return A


def outlier_scores(R, variant: str = "centred") -> np.ndarray:
    """Outlier scores of the rows of ``R`` (one class's representations), ``(n,)``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown scoring variant {variant!r}; use one of {VARIANTS}")
    A = _as_matrix(R, "representations")
    if A.shape[0] < 2:
        raise ValueError(f"need at least 2 samples in a class to score, got {A.shape[0]}")
    mu = A.mean(axis=0, keepdims=True)
    M = A - mu
    _, _, vt = np.linalg.svd(M, full_matrices=False)
    v = vt[0]
    proj = (M @ v) if variant == "centred" else (A @ v)
    return proj**2


@dataclass(frozen=True)
class SignatureResult:
    """Which samples were removed (boolean mask over all samples), per-sample scores
    (``nan`` for classes too small to score) and the removal budget per class."""

    removed: np.ndarray
    scores: np.ndarray
    budget: dict[int, int]
    variant: str


def spectral_signatures(R, labels, eps: float, *, variant: str = "centred",
                        classes=None, factor: float = 1.5) -> SignatureResult:
    """Run the detector on representations ``R`` ``(n, f)`` with integer ``labels`` ``(n,)``.

    ``eps`` is the expected poison fraction (``0 < eps < 1``); in every class of
    ``classes`` (default: all labels present) the ``ceil(factor * eps * n_class)`` highest
    scores are removed (never more than the class holds).
    """
    A = _as_matrix(R, "representations")
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != A.shape[0]:
        raise ValueError(f"labels must be 1-D with {A.shape[0]} entries; got shape {y.shape}")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and 0 < eps < 1):
        raise ValueError(f"expected poison fraction eps must be in (0, 1), got {eps!r}")
    if not factor > 0:
        raise ValueError(f"removal factor must be positive, got {factor!r}")
    classes = np.unique(y) if classes is None else np.asarray(list(classes))
    removed = np.zeros(A.shape[0], dtype=bool)
    scores = np.full(A.shape[0], np.nan)
    budget: dict[int, int] = {}
    for cl in classes:
        idx = np.flatnonzero(y == cl)
        if idx.size < 2:
            budget[int(cl)] = 0
            continue
        sc = outlier_scores(A[idx], variant)
        scores[idx] = sc
        # rounded first so that e.g. 1.5 * 0.05 * 200 = 15.000000000000002 gives 15
        k = min(idx.size, math.ceil(round(factor * eps * idx.size, 9)))
        budget[int(cl)] = k
        removed[idx[np.argsort(-sc, kind="stable")[:k]]] = True
    return SignatureResult(removed, scores, budget, variant)


def detection_metrics(removed, is_poison) -> dict[str, float]:
    """Recall (poisons removed / poisons) and precision (poisons removed / removed);
    ``nan`` only where the denominator is 0 (no poisons, or nothing removed)."""
    rm = np.asarray(removed, dtype=bool)
    ps = np.asarray(is_poison, dtype=bool)
    if rm.shape != ps.shape:
        raise ValueError(f"removed mask {rm.shape} and poison mask {ps.shape} differ in shape")
    hit = int((rm & ps).sum())
    n_p, n_r = int(ps.sum()), int(rm.sum())
    return {"recall": hit / n_p if n_p else float("nan"),
            "precision": hit / n_r if n_r else float("nan"),
            "removed": n_r, "poisons": n_p, "hits": hit}
