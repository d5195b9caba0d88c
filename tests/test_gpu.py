"""The same code on CUDA: KRR fits, batched input derivatives, poison refits and the
regularised estimator give the CPU results (float64).  Marked ``gpu``: skipped cleanly
without CUDA (see the root conftest)."""

from __future__ import annotations

import pytest
import torch

from derivations.kernels import BUILTIN_NAMES, get_spec
from numerics.krr import KRR
from numerics.poisons import clone_cluster, fit_clean_and_poisoned, measured_shift
from numerics.regularised import RegularisedKRR
from numerics.tolerances import assert_close

pytestmark = pytest.mark.gpu


def _data(seed: int = 0, n: int = 60, d: int = 5):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, 2, generator=g, dtype=torch.float64)
    Xq = torch.randn(20, d, generator=g, dtype=torch.float64)
    return X, y, Xq


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_krr_and_derivatives_cuda_equal_cpu(name):
    X, y, Xq = _data()
    # kernels with a declared singular set (arc-cosine NTKs) pass their Gram diagonal
    # through acos at its branch point, where CPU and CUDA acos differ by ~sqrt(eps)
    kind = "branch_point" if get_spec(name).singular is not None else "refit"
    cpu = KRR(name, 0.1).fit(X, y)
    gpu = KRR(name, 0.1, device="cuda").fit(X, y)
    for a, b, what in zip(cpu.derivatives(Xq), gpu.derivatives(Xq), ("f", "grad", "hess"),
                          strict=True):
        assert b.device.type == "cuda"
        scale = max(1.0, float(a.abs().max()))
        assert_close(b.cpu() / scale, a / scale, kind, f"{name}: {what} on CUDA vs CPU")


def test_poison_refit_and_regularised_cuda_equal_cpu():
    X, y, Xq = _data(1)
    Xp, yp = clone_cluster(X[0] + 0.3, 5, 1.0)
    shifts = []
    for dev in ("cpu", "cuda"):
        clean, poisoned = fit_clean_and_poisoned("gaussian", 0.1, X, y[:, 0], Xp, yp,
                                                 device=dev)
        shifts.append(measured_shift(clean, poisoned, Xq).cpu())
    assert_close(shifts[1], shifts[0], "refit", "measured shift on CUDA vs CPU")
    preds = [RegularisedKRR("gaussian", 0.1, 1.0, device=dev).fit(X, y[:, 0]).predict(Xq).cpu()
             for dev in ("cpu", "cuda")]
    assert_close(preds[1], preds[0], "refit", "regularised KRR on CUDA vs CPU")
