"""Bad input gets a clear error naming the problem; nothing returns a silent NaN."""

from __future__ import annotations

import math

import pytest
import torch

from derivations.conventions import ridge_from_lambda
from derivations.kernels import UnknownKernelError
from numerics.kernels import TorchKernel, check_gram_psd, get_kernel
from numerics.krr import KRR, EmptyTrainingSetError
from numerics.tolerances import assert_close, is_close
from numerics.validation import NotPSDError, SingularSystemError

X = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
y = torch.randn(6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_or_inf_inputs(bad):
    Xb = X.clone()
    Xb[2, 1] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        KRR("gaussian", 0.1).fit(Xb, y)
    yb = y.clone()
    yb[0] = bad
    with pytest.raises(ValueError, match="training targets y contains 1 NaN or infinite"):
        KRR("gaussian", 0.1).fit(X, yb)
    with pytest.raises(ValueError, match="query points contains"):
        KRR("gaussian", 0.1).fit(X, y).input_hessian(Xb)


def test_shape_mismatches():
    model = KRR("gaussian", 0.1).fit(X, y)
    with pytest.raises(ValueError, match="has 2 input dimensions but 3 were expected"):
        model.predict(torch.zeros(4, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="has 5 rows but there are 6 points"):
        KRR("gaussian", 0.1).fit(X, y[:5])
    with pytest.raises(ValueError, match="2-D array"):
        KRR("gaussian", 0.1).fit(torch.zeros(2, 3, 4), y)
    with pytest.raises(ValueError, match="weights must have shape"):
        get_kernel("gaussian").derivatives(X, X, torch.ones(5))


@pytest.mark.parametrize("ridge", [0.0, -1.0, math.nan])
def test_ridge_must_be_positive(ridge):
    with pytest.raises(ValueError, match="ridge c must be"):
        KRR("gaussian", ridge)
    with pytest.raises(ValueError, match="lambda must be positive"):
        ridge_from_lambda(min(ridge, 0.0), 10)


def test_unknown_kernel_and_bad_parameters():
    with pytest.raises(UnknownKernelError, match="unknown kernel 'gausian'.*registered kernels"):
        get_kernel("gausian")
    with pytest.raises(ValueError, match="parameter 'ell' must be positive"):
        get_kernel("gaussian", ell=-1.0)
    with pytest.raises(ValueError, match="parameter 'p' must be an integer"):
        get_kernel("polynomial", p=2.5)
    with pytest.raises(TypeError, match="has no parameter"):
        get_kernel("gaussian", length=1.0)


def test_singular_system_is_an_error():
    # duplicated points and a ridge far below float64 resolution of K
    Xd = torch.cat([X, X])
    with pytest.raises(SingularSystemError, match="increase the ridge"):
        KRR("gaussian", 1e-15).fit(Xd, torch.cat([y, y]))


def test_non_psd_gram_is_an_error():
    K = torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64)
    with pytest.raises(NotPSDError, match="not positive semi-definite"):
        check_gram_psd(K)
    with pytest.raises(NotPSDError, match="not symmetric"):
        check_gram_psd(torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=torch.float64))


def test_unfitted_model():
    with pytest.raises(RuntimeError, match="not fitted"):
        KRR("gaussian", 0.1).predict(X)


def test_nan_is_never_close():
    nan = torch.tensor([math.nan])
    assert not is_close(nan, nan, "exact")
    with pytest.raises(AssertionError, match="NaN is never close"):
        assert_close(nan, nan, "refit")


def test_loss_hessian_parts():
    model = KRR(TorchKernel("gaussian", ell=0.7), 0.1).fit(X, y)
    Xq = X[:3] + 0.1
    f, g, h = model.derivatives(Xq)
    lh = model.loss_hessian(Xq, torch.zeros(3, dtype=torch.float64))
    assert_close(lh.gauss_newton, g[:, :, None] * g[:, None, :], "exact", "GN part")
    assert_close(lh.residual, f[:, None, None] * h, "exact", "residual part")
    assert_close(lh.total, lh.gauss_newton + lh.residual, "exact", "total")


# --------------------------------------------------------------- regression: issue 13


@pytest.mark.parametrize("bad, kind", [
    (X.to(torch.complex128) + 1e-3j, "complex"),
    (X.numpy() + 1e-3j, "complex"),
    ([[1.0 + 2.0j, 0.0, 0.0]], "complex"),
    (X > 0, "boolean"),
    ((X > 0).numpy(), "boolean"),
    ([["a", "b", "c"]], "real numbers"),
    ([[object(), 1.0, 2.0]], "real numbers"),
    ([[None, 1.0, 2.0]], "real numbers"),
])
def test_non_real_inputs_are_refused_naming_the_argument(bad, kind):
    """Complex inputs used to lose their imaginary part silently (and bool / string /
    object arrays were cast or failed inside NumPy): now a TypeError naming the argument."""
    with pytest.raises(TypeError, match=f"training inputs X .*{kind}|training inputs X "
                                        f"must .*{kind}"):
        KRR("gaussian", 0.1).fit(bad, y[:len(bad)] if len(bad) < 6 else y)
    model = KRR("gaussian", 0.1).fit(X, y)
    with pytest.raises(TypeError, match=f"query points .*{kind}"):
        model.predict(bad)


def test_real_inputs_of_every_kind_still_accepted():
    """Integer, float32 and list-of-tensor inputs are real: converted to float64."""
    ref = KRR("gaussian", 0.1).fit(X, y).predict(X[:2])
    as_list = [row for row in X]
    assert_close(KRR("gaussian", 0.1).fit(as_list, y).predict(X[:2]), ref, "exact")
    ints = torch.arange(6, dtype=torch.int64)
    assert KRR("gaussian", 0.1).fit(X, ints).alpha.dtype == torch.float64


def test_fit_on_zero_rows_is_a_named_error():
    """Zero training rows used to crash inside torch (a max over an empty tensor)."""
    with pytest.raises(EmptyTrainingSetError, match="training inputs X have zero rows"):
        KRR("gaussian", 0.1).fit(torch.zeros(0, 3, dtype=torch.float64),
                                 torch.zeros(0, dtype=torch.float64))
    assert issubclass(EmptyTrainingSetError, ValueError)


@pytest.mark.parametrize("name", ["gaussian", "ntk_relu"])
@pytest.mark.parametrize("outputs", [None, 4])
def test_empty_queries_give_empty_results(name, outputs):
    """A (0, d) query set gives empty results of the documented shapes (the derivatives
    used to fail with an IndexError inside the chunking)."""
    yy = y if outputs is None else torch.randn(6, outputs, dtype=torch.float64)
    model = KRR(name, 0.1).fit(X, yy)
    E = torch.zeros(0, 3, dtype=torch.float64)
    o = () if outputs is None else (outputs,)
    assert model.predict(E).shape == (0, *o)
    assert model.input_gradient(E).shape == (0, *o, 3)
    assert model.input_hessian(E).shape == (0, *o, 3, 3)
    f, g, h = model.derivatives(E)
    assert (f.shape, g.shape, h.shape) == ((0, *o), (0, *o, 3), (0, *o, 3, 3))
    lh = model.loss_hessian(E, torch.zeros(0, *o, dtype=torch.float64))
    assert lh.total.shape == (0, 3, 3)
