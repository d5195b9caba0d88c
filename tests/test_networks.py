"""FCNet: shapes, centring, input derivatives, empirical vs analytic NTK, training to
NTK-KRR, the double-backprop penalty, bad input."""

from __future__ import annotations

import pytest
import torch

from derivations.kernels import get_spec
from numerics.kernels import get_kernel
from numerics.networks import FCNet, input_loss_gradient, objective, train
from numerics.ntk import stable_value_fn
from numerics.tolerances import assert_close


def _gram(fn, X, beta=1.0):
    u = X @ X.T
    a = (X * X).sum(1)
    u.diagonal().copy_(a)  # x.x = |x|^2 exactly on the diagonal, as TorchKernel.gram does
    a = a[:, None].expand_as(u)
    return fn(a, a.T, u, beta=beta)


def test_shapes_and_centring():
    net = FCNet(4, 32, 2, "tanh", seed=0)
    X = torch.randn(5, 4, dtype=torch.float64)
    assert net(X).shape == (5,)
    assert_close(net(X), torch.zeros(5, dtype=torch.float64), "exact", "centred at init")
    assert net.input_gradient(X).shape == (5, 4)
    assert net.input_hessian(X).shape == (5, 4, 4)
    assert net.empirical_ntk(X).shape == (5, 5)
    assert net.jacobian(X).shape == (5, net.n_params)


def test_input_gradient_vs_finite_differences():
    net = FCNet(3, 16, 2, "erf", seed=1)
    net.params = {k: v + 0.1 * torch.randn_like(v) for k, v in net.params.items()}
    X = torch.randn(4, 3, dtype=torch.float64)
    g = net.input_gradient(X)
    h = 1e-6
    fd = torch.stack([(net(X + h * e) - net(X - h * e)) / (2 * h)
                      for e in torch.eye(3, dtype=torch.float64)], -1)
    assert_close(fd, g, "finite_difference", "input gradient vs FD")
    H = net.input_hessian(X)
    fdh = torch.stack([(net.input_gradient(X + h * e) - net.input_gradient(X - h * e)) / (2 * h)
                       for e in torch.eye(3, dtype=torch.float64)], -1)
    assert_close(fdh, H, "finite_difference", "input Hessian vs FD")


@pytest.mark.parametrize("name,activation,depth", [
    ("ntk_relu", "relu", 1), ("ntk_erf", "erf", 1),
    ("ntk_relu_d2", "relu", 2), ("ntk_erf_d2", "erf", 2),
])
def test_empirical_ntk_approaches_analytic(name, activation, depth):
    """Relative error of the empirical NTK (mean over 3 seeds) against the *registered*
    kernel's Gram falls with the width, and is small at the largest width (CLT:
    ~ h^{-1/2}); the registered kernel is the builder's (generated) NTK of that network."""
    X = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    K = get_kernel(name).gram(X)
    assert get_spec(name).title.startswith("NTK") and (depth == 1 or f"{depth} hidden" in
                                                      get_spec(name).title)
    assert_close(K, _gram(stable_value_fn(activation, depth), X), "exact", f"{name} vs builder")
    errs = []
    widths = (64, 2048) if depth == 1 else (32, 512)
    for w in widths:
        e = [float((FCNet(3, w, depth, activation, seed=s).empirical_ntk(X) - K).abs().max()
                   / K.abs().max()) for s in range(3)]
        errs.append(sum(e) / 3)
    assert errs[1] < errs[0]
    assert errs[1] < (0.08 if depth == 1 else 0.2), errs


def test_train_reaches_ntk_krr_limit_for_wide_net():
    X = torch.randn(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.sin(X[:, 0])
    Xq = torch.randn(3, 2, dtype=torch.float64)
    from numerics.krr import KRR

    ref = KRR("ntk_erf", 0.5).fit(X, y).predict(Xq)
    net = FCNet(2, 1024, 1, "erf", seed=2)
    res = train(net, X, y, ridge=0.5, steps=3000, tol=1e-9, momentum=0.9, progress=False)
    assert res.converged
    assert float((net(Xq) - ref).abs().max()) < 0.1


def test_penalty_double_backprop_gradient():
    """The penalty's parameter gradient (double backprop) equals finite differences of the
    objective along a random parameter direction."""
    net = FCNet(2, 8, 1, "tanh", seed=3)
    X = torch.randn(4, 2, dtype=torch.float64)
    y = torch.randn(4, dtype=torch.float64)
    p = {k: v.clone().requires_grad_(True) for k, v in net.params.items()}
    val = objective(net, p, X, y, kappa=0.7, ridge=0.2)
    grads = torch.autograd.grad(val, list(p.values()))
    d = {k: torch.randn_like(v) for k, v in p.items()}
    directional = sum((g * d[k]).sum() for g, k in zip(grads, p, strict=True)).detach()
    h = 1e-6
    with torch.no_grad():
        pp = {k: v + h * d[k] for k, v in p.items()}
        pm = {k: v - h * d[k] for k, v in p.items()}
    fd = (objective(net, pp, X, y, kappa=0.7, ridge=0.2).detach()
          - objective(net, pm, X, y, kappa=0.7, ridge=0.2).detach()) / (2 * h)
    assert_close(fd.item(), directional.item(), "finite_difference", "penalty gradient")
    g = input_loss_gradient(net, net.params, X, y)
    assert g.shape == (4, 2)


def test_bad_input():
    with pytest.raises(ValueError, match="activation"):
        FCNet(2, 8, activation="gelu")
    with pytest.raises(ValueError, match="width"):
        FCNet(2, 0)
    net = FCNet(2, 8)
    with pytest.raises(ValueError, match="input dimensions"):
        net(torch.zeros(3, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN"):
        net(torch.full((1, 2), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="penalty"):
        train(net, torch.zeros(2, 2), torch.zeros(2), penalty="x", progress=False)
    with pytest.raises(ValueError, match="ridge"):
        train(net, torch.zeros(2, 2), torch.zeros(2), ridge=-1.0, progress=False)
    with pytest.raises(ValueError, match="activation"):
        stable_value_fn("tanh", 1)


@pytest.mark.gpu
def test_network_on_cuda_matches_cpu():
    X = torch.randn(5, 3, dtype=torch.float64)
    a = FCNet(3, 64, 2, "erf", seed=0, device="cuda").empirical_ntk(X.cuda()).cpu()
    b = FCNet(3, 64, 2, "erf", seed=0).empirical_ntk(X)
    assert_close(a, b, "autograd", "empirical NTK cuda vs cpu")
