"""Experiment: the rank-one spike on one-hot KRR over scikit-learn's 8x8 digits (C3).

One job: :func:`digits_spike_track`, the experiment of the C3 book page -- a real-image
trigger, the predicted spike from C2/C3's closed forms against the measured poison
Gauss-Newton term and the full loss input Hessian as the poison count grows.
"""

from __future__ import annotations

import numpy as np
import torch

from derivations.kernels import get_spec
from numerics.claim_cases import EXACT
from numerics.data import load_digits_dataset, one_hot
from numerics.kernels import TorchKernel
from numerics.krr import KRR
from numerics.poisons import (
    autograd_gn_term,
    clean_conditionals,
    fit_clean_and_poisoned,
    top_eigenpairs,
    triggered_point,
)

__all__ = ["digits_spike_track"]


def digits_spike_track(kernel_name: str = "gaussian", ms=(0, 1, 2, 4, 8, 16, 32, 64),
                       n_clean: int = 300, rel_ridge: float = 1.0, r_rel: float = 0.5,
                       seed: int = 0) -> dict:
    """One-hot 10-class KRR on ``n_clean`` digits; trigger ``zeta`` = a held-out digit of
    class s with a 2x2 corner patch set to 1, labelled t = s + 1 (mod 10); triggered point
    ``x0`` at ``r_rel * ell`` from ``zeta`` (``ell`` = median clean pairwise distance for
    kernels with a length scale).  For each m: the predicted spike ``R_k~ |Delta f|^2``
    (closed form), the top eigenpair of the poison GN term (autograd), of
    ``sum_c grad f_c grad f_c^T`` and of the full loss input Hessian (defender's loss with
    the true label s), their eigenvalues and cos^2 overlaps with ``grad k~``."""
    ds = load_digits_dataset()
    rng = np.random.default_rng(seed)
    perm = rng.permutation(ds.X.shape[0])
    X, lab = ds.X[perm[:n_clean]], ds.y[perm[:n_clean]]
    Y = one_hot(lab, 10)
    src = int(perm[n_clean])
    s = int(ds.y[src])
    img = ds.X[src].clone().reshape(8, 8)
    img[-2:, -2:] = 1.0
    zeta = img.reshape(-1)
    yt = one_hot(torch.tensor([(s + 1) % 10]), 10)[0]
    ys = one_hot(torch.tensor([s]), 10)
    spec_params = {}
    ell = float(torch.cdist(X, X).median())
    if "ell" in {p.name for p in get_spec(kernel_name).params}:
        spec_params["ell"] = ell
    k = TorchKernel(kernel_name, **spec_params)
    length = ell if "ell" in spec_params else float(zeta.norm())
    c = rel_ridge * float(k.gram(X).diagonal().mean())
    x0 = triggered_point(zeta, r_rel * length, seed=seed)[None]
    clean = KRR(k, c).fit(X, Y)
    H_clean = clean.loss_hessian(x0, ys)
    lam_clean = float(top_eigenpairs(H_clean.total)[0][0, 0])
    cond = clean_conditionals(clean, x0, zeta)
    gk = cond.grad
    v_pred = gk / gk.norm()
    rows = []
    for mm in ms:
        if mm == 0:
            rows.append(dict(m=0, shift=0.0, pred=0.0, gn_poison=0.0, lam_gn=float(
                top_eigenpairs(H_clean.gauss_newton)[0][0, 0]), lam_total=lam_clean,
                cos2_gn=float("nan"), cos2_total=float(
                    (top_eigenpairs(H_clean.total)[1][0, :, 0] @ v_pred) ** 2)))
            continue
        Xp = zeta[None].expand(mm, -1)
        Yp = yt[None].expand(mm, -1)
        cl, po = fit_clean_and_poisoned(k, c, X, Y, Xp, Yp)
        # C2 closed form (one-hot vector): Delta f = k~0 b, and the spike R_k~ |Delta f|^2
        # = |grad k~|^2 |b|^2 (b = Delta f / k~0, the gain: no division by k~0)
        gain = EXACT(1.0, cond.ktz, cond.fCz, yt, mm, c)
        shift = cond.kt0 * gain
        pred = float(gk @ gk) * float(gain @ gain)
        lam_p = float(top_eigenpairs(autograd_gn_term(cl, po, x0))[0][0, 0])
        H = po.loss_hessian(x0, ys)
        vg, Vg = top_eigenpairs(H.gauss_newton)
        vt, Vt = top_eigenpairs(H.total)
        rows.append(dict(m=mm, shift=float(shift.norm()), pred=pred, gn_poison=lam_p,
                         lam_gn=float(vg[0, 0]), lam_total=float(vt[0, 0]),
                         cos2_gn=float((Vg[0, :, 0] @ v_pred) ** 2),
                         cos2_total=float((Vt[0, :, 0] @ v_pred) ** 2)))
    return {"kernel": str(k), "c": c, "lam_clean": lam_clean, "rows": rows}
