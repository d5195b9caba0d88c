"""Models, penalised training and input-Hessian measurements for 28x28 images
(numerics.image_models)."""

from __future__ import annotations

import copy

import pytest
import torch

from numerics.hessian_eig import dense_input_hessian
from numerics.image_models import (
    MLP,
    ModelError,
    SmallCNN,
    accuracy,
    alignment,
    augment_images,
    hessian_along,
    input_gradient_sq,
    input_hessian_eigenpairs,
    make_model,
    penalised_loss,
    penultimate_features,
    train_classifier,
)
from numerics.tolerances import assert_close

D = 784


def _data(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, D, generator=g, dtype=torch.float64), torch.arange(n) % 10


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_models_shapes_and_features(name):
    X, _ = _data(5)
    m = make_model(name, seed=0, dtype=torch.float64)
    assert m(X).shape == (5, 10)
    F = penultimate_features(m, X)
    assert F.shape[0] == 5 and F.ndim == 2
    torch.testing.assert_close(m.head(F), m(X))
    # the seed fixes the weights
    m2 = make_model(name, seed=0, dtype=torch.float64)
    assert all(torch.equal(a, b) for a, b in zip(m.parameters(), m2.parameters(), strict=True))


def test_penalty_value_and_weight_gradient_against_finite_differences():
    """J = mean CE + kappa/2 mean |grad_x CE|^2: the per-sample input gradients against central
    differences in x, and dJ/dw (double backprop) against central differences in w."""
    torch.manual_seed(0)
    m = MLP(d_in=6, hidden=(5,), n_classes=3).double()
    X = torch.randn(4, 6, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 1])
    kappa = 0.7
    # input gradient of sample 2's CE by finite differences
    losses, g2 = input_gradient_sq(m, X, y)
    h = 1e-6
    ce = torch.nn.functional.cross_entropy
    fd = torch.stack([(ce(m(X[2:3] + h * e), y[2:3]) - ce(m(X[2:3] - h * e), y[2:3])) / (2 * h)
                      for e in torch.eye(6, dtype=torch.float64)[:, None, :]])
    assert_close(fd.pow(2).sum(), g2[2], "finite_difference", "|grad_x CE|^2 vs differences")
    J = penalised_loss(m, X, y, kappa)
    assert_close(J, losses.mean() + 0.5 * kappa * g2.mean(), "exact", "J from its parts")
    # gradient in one weight matrix
    W = m.body[0].weight
    (gW,) = torch.autograd.grad(J, W)
    fdW = torch.zeros_like(W)
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            with torch.no_grad():
                W[i, j] += h
            up = float(penalised_loss(m, X, y, kappa).detach())
            with torch.no_grad():
                W[i, j] -= 2 * h
            down = float(penalised_loss(m, X, y, kappa).detach())
            with torch.no_grad():
                W[i, j] += h
            fdW[i, j] = (up - down) / (2 * h)
    assert_close(gW, fdW, "finite_difference", "dJ/dW (double backprop) vs differences")


@pytest.mark.parametrize("name,aug", [("mlp", False), ("cnn", True)])
def test_training_is_deterministic_with_a_seed(name, aug):
    X, y = _data(40)
    kw = dict(epochs=2, lr=1e-2, batch_size=16, kappa=0.5, augment=aug, flip=aug, seed=3)
    m1 = make_model(name, seed=1)
    m2 = make_model(name, seed=1)
    log1 = train_classifier(m1, X, y, **kw)
    log2 = train_classifier(m2, X, y, **kw)
    assert log1.epoch_loss == log2.epoch_loss and log1.steps == 6
    assert all(torch.equal(a, b) for a, b in zip(m1.parameters(), m2.parameters(), strict=True))
    m3 = make_model(name, seed=1)
    train_classifier(m3, X, y, **{**kw, "seed": 4})
    assert not all(torch.equal(a, b) for a, b in zip(m1.parameters(), m3.parameters(),
                                                     strict=True))


def test_training_learns_a_separable_problem():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(100, D, generator=g) * 0.1
    y = torch.arange(100) % 2
    X[y == 1, :100] += 0.8  # class 1: bright top rows
    m = make_model("mlp", seed=0)
    train_classifier(m, X, y, epochs=3, lr=1e-2, batch_size=25, seed=0)
    assert accuracy(m, X, y) == 1.0


def test_training_validation():
    X, y = _data(8)
    m = make_model("mlp", seed=0)
    kw = dict(epochs=1, lr=1e-3, batch_size=4, seed=0)
    with pytest.raises(ModelError, match="kappa"):
        train_classifier(m, X, y, kappa=-1.0, **kw)
    with pytest.raises(ModelError, match="epochs"):
        train_classifier(m, X, y, **{**kw, "epochs": 0})
    with pytest.raises(ModelError, match="flip=True needs augment=True"):
        train_classifier(m, X, y, flip=True, **kw)
    with pytest.raises(ModelError, match="flat images"):
        train_classifier(m, X[:, :100], y, **kw)
    with pytest.raises(ModelError, match="integer labels"):
        train_classifier(m, X, y.double(), **kw)
    with pytest.raises(ModelError, match="unknown model"):
        make_model("resnet", seed=0)


def test_augmentation_shifts_by_at_most_two_pixels_and_flips_only_when_asked():
    X = torch.zeros(300, D, dtype=torch.float64)
    X.reshape(300, 28, 28)[:, 10, 5] = 1.0  # one ink pixel, left half
    g = torch.Generator().manual_seed(0)
    A = augment_images(X, g, shift=2, flip=False).reshape(300, 28, 28)
    assert torch.all(A.sum((1, 2)) == 1.0)
    r, c = torch.nonzero(A, as_tuple=True)[1:]
    assert set(r.tolist()) == set(range(8, 13)) and set(c.tolist()) == set(range(3, 8))
    B = augment_images(X, torch.Generator().manual_seed(0), shift=2, flip=True)
    cols = set(torch.nonzero(B.reshape(300, 28, 28), as_tuple=True)[2].tolist())
    assert cols & set(range(3, 8)) and cols & set(range(20, 25))  # flipped: 27 - c
    with pytest.raises(ModelError, match="shift"):
        augment_images(X, g, shift=-1)


@pytest.mark.parametrize("name,which", [("mlp", "LM"), ("mlp", "LA"), ("cnn", "LM")])
def test_hessian_eigenpairs_against_dense_eigh(name, which):
    """Lanczos on HVPs (float64 copy of a float32 model) against eigh of the dense Hessian, on
    tiny models of 8x8 inputs (the dense Hessian of a 784-pixel CNN input takes minutes)."""
    torch.manual_seed(0)
    d = 64
    if name == "mlp":
        m = MLP(d_in=d, hidden=(16,), n_classes=10)
    else:
        m = SmallCNN(image_shape=(1, 8, 8), channels=(2, 3), hidden=8)
    g = torch.Generator().manual_seed(1)
    X, y = torch.rand(2, d, generator=g, dtype=torch.float64), torch.tensor([3, 7])
    m64 = copy.deepcopy(m).double()
    vals, vecs = input_hessian_eigenpairs(m, X, y, k=3, which=which)
    assert vals.dtype == torch.float64 and vals.shape == (2, 3) and vecs.shape == (2, d, 3)
    for i in range(2):
        def fn(x, i=i):
            return torch.nn.functional.cross_entropy(m64(x[None]), y[i:i + 1])

        H = dense_input_hessian(fn, X[i:i + 1])[0].detach()
        w, V = torch.linalg.eigh(H)
        order = torch.argsort(-w.abs() if which == "LM" else -w)[:3]
        assert_close(vals[i], w[order], "iterative_eig", f"{name} top eigenvalues ({which})")
        for j in range(3):
            ov = float((vecs[i, :, j] @ V[:, order[j]]).abs())
            assert_close(ov, 1.0, "iterative_eig", "eigenvector overlap")
        u = torch.randn(d, dtype=torch.float64)
        u = u / u.norm()
        along = hessian_along(m, X[i:i + 1], y[i:i + 1], u[None])
        assert_close(along[0], u @ H @ u, "autograd", "u^T H u")


def test_alignment_is_an_absolute_cosine():
    V = torch.eye(4, dtype=torch.float64)[None].expand(3, 4, 4)
    u = torch.tensor([3.0, -4.0, 0.0, 0.0], dtype=torch.float64)
    A = alignment(V, u)
    assert A.shape == (3, 4)
    torch.testing.assert_close(A[0], torch.tensor([0.6, 0.8, 0.0, 0.0], dtype=torch.float64))
    assert float(alignment(V[:, :, 1], -u).max()) == pytest.approx(0.8)
    with pytest.raises(ModelError, match="do not match"):
        alignment(V, torch.ones(2, 5))
