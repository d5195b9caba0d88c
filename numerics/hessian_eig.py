"""Input Hessians of a network and their top eigenpairs by Hessian-vector products.

``hvp(fn, x, v)`` is forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad``);
:func:`top_eigenpairs` runs ``scipy.sparse.linalg.eigsh`` (Lanczos) on a
``LinearOperator`` built from it, one point at a time, so the ``d x d`` Hessian is never
formed; :func:`dense_input_hessian` (``torch.func.hessian``) and ``eigh`` are the
independent reference used by the tests.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh

from numerics.validation import as_points

__all__ = ["hvp", "dense_input_hessian", "top_eigenpairs", "loss_fn"]

Scalar = Callable[[torch.Tensor], torch.Tensor]


def hvp(fn: Scalar, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``hess fn(x) @ v`` by forward-over-reverse autodiff (``x``, ``v``: ``(d,)``)."""
    return torch.func.jvp(torch.func.grad(fn), (x,), (v,))[1]


def dense_input_hessian(fn: Scalar, X) -> torch.Tensor:
    """``hess fn`` at each row of ``X``, ``(n, d, d)`` (reference)."""
    X = as_points(X, name="points X")
    return torch.stack([torch.func.hessian(fn)(x) for x in X])


def loss_fn(net, y: float, params=None) -> Scalar:
    """``x -> (f(x) - y)^2 / 2`` for a :class:`numerics.networks.FCNet`."""
    params = net.params if params is None else params
    return lambda x: 0.5 * (net.apply(params, x) - y) ** 2


def top_eigenpairs(fn: Scalar, X, k: int = 1, *, which: str = "LA",
                   tol: float = 1e-12) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest (``which="LA"``) or largest-magnitude (``"LM"``) eigenpairs of
    ``hess fn`` at each row of ``X``: ``(values (n, k) descending, vectors (n, d, k))``.

    Lanczos (``eigsh``) on HVPs; for ``k >= d - 1`` (where ARPACK cannot run) it falls
    back to ``eigh`` of the Hessian assembled from ``d`` HVPs.
    """
    X = as_points(X, name="points X")
    n, d = X.shape
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= d:
        raise ValueError(f"k must be an integer in [1, d={d}], got {k!r}")
    if which not in ("LA", "LM"):
        raise ValueError(f"which must be 'LA' or 'LM', got {which!r}")
    vals, vecs = [], []
    for x in X:
        def mv(v, x=x):
            t = torch.as_tensor(np.asarray(v).reshape(-1), dtype=X.dtype, device=X.device)
            return hvp(fn, x, t).detach().cpu().numpy()

        if k >= d - 1:
            H = np.stack([mv(e) for e in np.eye(d)], axis=1)
            w, V = np.linalg.eigh(0.5 * (H + H.T))
            order = np.argsort(-np.abs(w) if which == "LM" else -w)[:k]
            w, V = w[order], V[:, order]
        else:
            op = LinearOperator((d, d), matvec=mv, dtype=np.float64)
            w, V = eigsh(op, k=k, which=which, tol=tol,
                         v0=np.random.default_rng(0).standard_normal(d))
            order = np.argsort(-np.abs(w) if which == "LM" else -w)
            w, V = w[order], V[:, order]
        vals.append(torch.as_tensor(w.copy()))
        vecs.append(torch.as_tensor(V.copy()))
    return torch.stack(vals).to(X.device), torch.stack(vecs).to(X.device)
