"""Small classifiers for 28x28 grey images (torch.nn), seeded training with the input-gradient
penalty of claim C8 and augmentation, and the measurements of experiments E2 and E3.

Models take flat images ``(n, 784)`` (a CNN reshapes them) and return logits ``(n, 10)``;
:meth:`features` gives the penultimate layer (the representations of Spectral Signatures and
of claim C7).  Both use the smooth SiLU activation and average pooling, so the loss is twice
differentiable in the input everywhere and its input Hessian has both parts, the Gauss-Newton
term ``J^T (diag p - p p^T) J`` and the residual term ``sum_c (p_c - y_c) hess f_c`` (with
ReLU and max pooling the second vanishes almost everywhere and the Hessian would not depend on
the label).  No batch normalisation: every sample's loss depends on its own input only, so
the per-sample input gradients of the penalty come out of one backward pass.

:func:`train_classifier` minimises the penalised objective of claim C8 with Adam on
mini-batches,

    J(w) = mean_i CE(f_w(x_i), y_i) + kappa/2 * mean_i |grad_x CE(f_w(x_i), y_i)|^2,

the penalty by double back-propagation (``create_graph=True``).  Training is deterministic
for a given ``seed`` on the CPU (the shuffling and the augmentation draw from a
``torch.Generator`` seeded with it; the initial weights come from the model's own seed).
Models are trained in float32 for speed; :func:`input_hessian_eigenpairs` measures on a
float64 copy (Lanczos by Hessian-vector products, :func:`numerics.hessian_eig.top_eigenpairs`,
which needs float64 to reach its tolerance), so the eigenpairs are those of the trained
float32 weights evaluated in float64.

Augmentation (:func:`augment_images`): a random shift of up to ``shift`` pixels in each
direction (zero padding, then a random crop back to 28x28) and, only when asked, a random
horizontal flip.  The drivers flip Fashion-MNIST (clothing is left-right symmetric: a flipped
shoe is still a shoe) and never MNIST (a flipped digit is not the same digit, or no digit).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from numerics.hessian_eig import top_eigenpairs
from numerics.validation import resolve_device

__all__ = [
    "MODELS",
    "ModelError",
    "MLP",
    "SmallCNN",
    "make_model",
    "architecture",
    "augment_images",
    "penalised_loss",
    "input_gradient_sq",
    "TrainLog",
    "train_classifier",
    "predict",
    "accuracy",
    "penultimate_features",
    "input_hessian_eigenpairs",
    "hessian_along",
    "alignment",
]

MODELS: tuple[str, ...] = ("mlp", "cnn")


class ModelError(ValueError):
    """Invalid arguments to a model, the training loop or a measurement."""


class MLP(nn.Module):
    """``d -> hidden[0] -> ... -> hidden[-1] -> classes``, SiLU; the last hidden layer is the
    penultimate feature layer."""

    def __init__(self, d_in: int = 784, hidden: tuple[int, ...] = (256, 128),
                 n_classes: int = 10) -> None:
        super().__init__()
        if not hidden or any(int(h) < 1 for h in hidden):
            raise ModelError(f"hidden must be a non-empty tuple of positive widths, got {hidden!r}")
        layers: list[nn.Module] = []
        prev = d_in
        for h in hidden:
            layers += [nn.Linear(prev, int(h)), nn.SiLU()]
            prev = int(h)
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(prev, n_classes)
        self.d_in = d_in

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class SmallCNN(nn.Module):
    """Two 3x3 convolutions (``channels``), SiLU, 2x2 average pooling after each, then a
    fully connected layer of ``hidden`` units (the penultimate features) and the head."""

    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28),
                 channels: tuple[int, int] = (8, 16), hidden: int = 64,
                 n_classes: int = 10) -> None:
        super().__init__()
        c, h, w = image_shape
        if h % 4 or w % 4:
            raise ModelError(f"SmallCNN needs height and width divisible by 4, got {image_shape}")
        c1, c2 = (int(v) for v in channels)
        self.image_shape = (c, h, w)
        self.conv = nn.Sequential(
            nn.Conv2d(c, c1, 3, padding=1), nn.SiLU(), nn.AvgPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.SiLU(), nn.AvgPool2d(2),
        )
        self.fc = nn.Sequential(nn.Linear(c2 * (h // 4) * (w // 4), int(hidden)), nn.SiLU())
        self.head = nn.Linear(int(hidden), n_classes)
        self.d_in = c * h * w

    def features(self, x: torch.Tensor) -> torch.Tensor:
        z = self.conv(x.reshape(x.shape[0], *self.image_shape))
        return self.fc(z.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def make_model(name: str, *, seed: int, dtype: torch.dtype = torch.float32,
               device: str | torch.device | None = None, **kwargs: object) -> nn.Module:
    """A fresh model ``"mlp"`` (:class:`MLP`) or ``"cnn"`` (:class:`SmallCNN`), its weights
    drawn (PyTorch's default initialisation) from ``seed``; ``kwargs`` go to the class."""
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}; use one of {MODELS}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ModelError(f"seed must be a non-negative integer, got {seed!r}")
    cls = MLP if name == "mlp" else SmallCNN
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(**kwargs)  # type: ignore[arg-type]
    return model.to(dtype=dtype, device=resolve_device(device))


def architecture(model: nn.Module) -> str:
    """A one-line description of a model's layers, e.g. ``"MLP 784-256-128-10 (SiLU)"``."""
    if isinstance(model, MLP):
        widths = [model.d_in] + [m.out_features for m in model.body if isinstance(m, nn.Linear)]
        return f"MLP {'-'.join(map(str, widths + [model.head.out_features]))} (SiLU)"
    if isinstance(model, SmallCNN):
        convs = [m for m in model.conv if isinstance(m, nn.Conv2d)]
        parts = [f"conv {m.kernel_size[0]}x{m.kernel_size[1]}x{m.out_channels} + avg-pool 2"
                 for m in convs]
        fc = model.fc[0]
        return (f"CNN {'x'.join(map(str, model.image_shape))} -> " + " -> ".join(parts)
                + f" -> dense {fc.out_features} -> {model.head.out_features} (SiLU)")
    return type(model).__name__


def augment_images(X: torch.Tensor, g: torch.Generator, *, shift: int = 2, flip: bool = False,
                   image_shape: tuple[int, int, int] = (1, 28, 28)) -> torch.Tensor:
    """Random shifts by up to ``shift`` pixels in each direction (pad with zeros, crop back) and,
    when ``flip``, a random horizontal flip (probability 1/2), per image; draws from ``g``
    (a CPU generator).  ``X``: flat images ``(n, c*h*w)``."""
    c, h, w = image_shape
    if X.ndim != 2 or X.shape[1] != c * h * w:
        raise ModelError(f"X must hold flat images (n, {c * h * w}), got {tuple(X.shape)}")
    if isinstance(shift, bool) or not isinstance(shift, int) or not 0 <= shift < min(h, w):
        raise ModelError(f"shift must be an integer in [0, {min(h, w) - 1}], got {shift!r}")
    n = X.shape[0]
    img = X.reshape(n, c, h, w)
    if shift:
        pad = nn.functional.pad(img, (shift, shift, shift, shift))
        dy = torch.randint(0, 2 * shift + 1, (n,), generator=g).to(X.device)
        dx = torch.randint(0, 2 * shift + 1, (n,), generator=g).to(X.device)
        rows = dy[:, None] + torch.arange(h, device=X.device)[None, :]  # (n, h)
        cols = dx[:, None] + torch.arange(w, device=X.device)[None, :]  # (n, w)
        idx_n = torch.arange(n, device=X.device)[:, None, None, None]
        idx_c = torch.arange(c, device=X.device)[None, :, None, None]
        img = pad[idx_n, idx_c, rows[:, None, :, None], cols[:, None, None, :]]
    if flip:
        f = (torch.rand(n, generator=g) < 0.5).to(X.device)
        img = torch.where(f[:, None, None, None], img.flip(-1), img)
    return img.reshape(n, c * h * w)


def _check_xy(model: nn.Module, X: torch.Tensor, y: torch.Tensor | None = None) -> None:
    d = getattr(model, "d_in", None)
    if not isinstance(X, torch.Tensor) or X.ndim != 2 or (d is not None and X.shape[1] != d):
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ModelError(f"X must be flat images (n, {d}), got {shape}")
    if y is not None:
        if not isinstance(y, torch.Tensor) or y.shape != (X.shape[0],) or y.is_floating_point():
            shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ModelError(f"y must be {X.shape[0]} integer labels, got {shape}")


def input_gradient_sq(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *,
                      create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample cross-entropy ``(n,)`` and squared input-gradient norm
    ``|grad_x CE(f(x_i), y_i)|^2`` ``(n,)`` (one backward pass: sample i's loss depends only on
    ``x_i``).  With ``create_graph`` both stay differentiable in the weights (double
    back-propagation); otherwise they are detached."""
    p = next(model.parameters())
    y = y.to(p.device)
    with torch.enable_grad():  # the input gradient needs autograd even under no_grad
        Xg = X.detach().to(device=p.device, dtype=p.dtype).requires_grad_(True)
        losses = nn.functional.cross_entropy(model(Xg), y, reduction="none")
        (gx,) = torch.autograd.grad(losses.sum(), Xg, create_graph=create_graph)
    if not create_graph:
        losses = losses.detach()
    return losses, gx.pow(2).sum(1)


def penalised_loss(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                   kappa: float) -> torch.Tensor:
    """``J = mean CE + kappa/2 mean |grad_x CE|^2`` (claim C8), differentiable in the weights
    (double back-propagation when ``kappa > 0``)."""
    if not (isinstance(kappa, int | float) and math.isfinite(kappa) and kappa >= 0):
        raise ModelError(f"kappa must be a finite number >= 0, got {kappa!r}")
    if kappa == 0:
        return nn.functional.cross_entropy(model(X), y)
    losses, g2 = input_gradient_sq(model, X, y, create_graph=True)
    return losses.mean() + 0.5 * kappa * g2.mean()


@dataclass
class TrainLog:
    """What a training run did: the mean objective per epoch, the wall time, the settings."""

    epoch_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    settings: dict = field(default_factory=dict)


def train_classifier(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, epochs: int,
                     lr: float, batch_size: int, kappa: float = 0.0, augment: bool = False,
                     flip: bool = False, shift: int = 2, seed: int,
                     device: str | torch.device | None = None) -> TrainLog:
    """Train ``model`` in place with Adam (learning rate ``lr``) on mini-batches of
    ``batch_size`` for ``epochs`` passes over ``(X, y)``, minimising :func:`penalised_loss`.

    ``augment``: each batch is augmented afresh (:func:`augment_images`: shifts of up to
    ``shift`` pixels, horizontal flips too when ``flip``).  ``seed`` fixes the shuffling and
    the augmentation; ``device`` (default: the model's) is where the model and data go (the
    data are cast to the model's dtype)."""
    _check_xy(model, X, y)
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ModelError(f"{name} must be a positive integer, got {v!r}")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ModelError(f"lr must be a finite number > 0, got {lr!r}")
    if not (isinstance(kappa, int | float) and math.isfinite(kappa) and kappa >= 0):
        raise ModelError(f"kappa must be a finite number >= 0, got {kappa!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ModelError(f"seed must be a non-negative integer, got {seed!r}")
    if flip and not augment:
        raise ModelError("flip=True needs augment=True (flips are part of the augmentation)")
    dev = next(model.parameters()).device if device is None else resolve_device(device)
    model.to(dev)
    dtype = next(model.parameters()).dtype
    X = X.to(device=dev, dtype=dtype)
    y = y.to(dev)
    shape = getattr(model, "image_shape", (1, 28, 28))
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    log = TrainLog(settings={"epochs": epochs, "lr": lr, "batch_size": batch_size,
                             "kappa": kappa, "augment": augment, "flip": flip, "shift": shift,
                             "seed": seed})
    t0 = time.perf_counter()
    model.train()
    n = X.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g).to(dev)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            Xb = X[idx]
            if augment:
                Xb = augment_images(Xb, g, shift=shift, flip=flip, image_shape=shape)
            loss = penalised_loss(model, Xb, y[idx], float(kappa))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
            log.steps += 1
        log.epoch_loss.append(total / n)
    model.eval()
    log.seconds = time.perf_counter() - t0
    return log


def predict(model: nn.Module, X: torch.Tensor, *, batch_size: int = 2048) -> torch.Tensor:
    """Logits ``(n, classes)`` without gradients, in eval mode (``X`` cast to the model)."""
    _check_xy(model, X)
    p = next(model.parameters())
    X = X.to(device=p.device, dtype=p.dtype)
    model.eval()
    with torch.no_grad():
        return torch.cat([model(X[i:i + batch_size]) for i in range(0, X.shape[0], batch_size)])


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``X`` classified as ``y`` (clean accuracy on a clean test set)."""
    _check_xy(model, X, y)
    return float((predict(model, X).argmax(1).cpu() == y.cpu()).double().mean())


def penultimate_features(model: nn.Module, X: torch.Tensor, *,
                         batch_size: int = 2048) -> torch.Tensor:
    """The penultimate-layer representations ``model.features(X)``, ``(n, f)``, no gradients."""
    _check_xy(model, X)
    p = next(model.parameters())
    X = X.to(device=p.device, dtype=p.dtype)
    model.eval()
    with torch.no_grad():
        return torch.cat([model.features(X[i:i + batch_size])
                          for i in range(0, X.shape[0], batch_size)])


def _float64_copy(model: nn.Module) -> nn.Module:
    m = copy.deepcopy(model).to(dtype=torch.float64)
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def _loss_at(m: nn.Module, label: int):
    yl = torch.tensor([label], device=next(m.parameters()).device)
    return lambda x: nn.functional.cross_entropy(m(x[None]), yl)


def input_hessian_eigenpairs(model: nn.Module, X: torch.Tensor, y: torch.Tensor, k: int = 1, *,
                             which: str = "LM", tol: float = 1e-10
                             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` eigenpairs of the input Hessian of ``CE(f(x), y_i)`` at each row ``x_i`` of
    ``X``: ``(values (n, k), vectors (n, d, k))``, float64.

    ``which="LM"`` (default): the ``k`` eigenvalues of largest magnitude, ordered by
    decreasing magnitude, with their signs (what power iteration on the Hessian finds: the
    CE loss's input Hessian has negative directions away from a minimum); ``"LA"``: the
    ``k`` largest (most positive), descending.  Measured on a float64 copy of ``model`` by
    Lanczos on Hessian-vector products (:func:`numerics.hessian_eig.top_eigenpairs`); the
    Hessian is never formed."""
    _check_xy(model, X, y)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ModelError(f"k must be a positive integer, got {k!r}")
    if which not in ("LM", "LA"):
        raise ModelError(f"which must be 'LM' or 'LA', got {which!r}")
    m = _float64_copy(model)
    dev = next(m.parameters()).device
    X64 = X.detach().to(device=dev, dtype=torch.float64)
    vals, vecs = [], []
    for x, label in zip(X64, y.tolist(), strict=True):
        w, V = top_eigenpairs(_loss_at(m, int(label)), x[None], k, which=which, tol=tol)
        vals.append(w[0])
        vecs.append(V[0])
    return torch.stack(vals), torch.stack(vecs)


def hessian_along(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                  directions: torch.Tensor) -> torch.Tensor:
    """The curvature ``u^T H u`` of the loss ``CE(f(x_i), y_i)`` along the unit direction
    ``u = directions[i]`` at each row (one HVP each, float64 copy), ``(n,)``."""
    from numerics.hessian_eig import hvp

    _check_xy(model, X, y)
    if directions.shape != X.shape:
        raise ModelError(f"directions must have the shape of X {tuple(X.shape)}, got "
                         f"{tuple(directions.shape)}")
    m = _float64_copy(model)
    dev = next(m.parameters()).device
    X64 = X.detach().to(device=dev, dtype=torch.float64)
    U = directions.detach().to(device=dev, dtype=torch.float64)
    out = [hvp(_loss_at(m, int(label)), x, u) @ u
           for x, u, label in zip(X64, U, y.tolist(), strict=True)]
    return torch.stack(out).detach().cpu()


def alignment(vectors: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """``|<v, u>|`` for unit eigenvectors ``v`` and unit trigger directions ``u``, in [0, 1].

    ``vectors``: ``(n, d)`` or ``(n, d, k)`` (then ``(n, k)`` is returned); ``directions``:
    ``(d,)`` (one direction for all rows) or ``(n, d)``.  Both are normalised first, so the
    result is a cosine whatever their scale."""
    V = torch.as_tensor(vectors, dtype=torch.float64)
    U = torch.as_tensor(directions, dtype=torch.float64).to(V.device)
    squeeze = V.ndim == 2
    if squeeze:
        V = V[:, :, None]
    if V.ndim != 3:
        raise ModelError(f"vectors must be (n, d) or (n, d, k), got {tuple(V.shape)}")
    if U.ndim == 1:
        U = U.expand(V.shape[0], -1)
    if U.shape != V.shape[:2]:
        raise ModelError(f"directions {tuple(U.shape)} do not match vectors {tuple(V.shape)}")
    V = V / torch.linalg.vector_norm(V, dim=1, keepdim=True)
    U = U / torch.linalg.vector_norm(U, dim=1, keepdim=True)
    out = torch.einsum("nd,ndk->nk", U, V).abs().clamp(max=1.0)
    return out[:, 0] if squeeze else out
