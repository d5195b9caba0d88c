"""Dirty-label backdoor triggers for 28x28 grey images (Fashion-MNIST, MNIST), poisoning and
attack success.

Images are flat rows ``(n, 784)`` with pixels in [0, 1] (``numerics.data.Dataset.X``); a
trigger maps a batch of images to triggered images of the same shape.  Three triggers
(:data:`TRIGGER_KINDS`), each a frozen :class:`Trigger` whose fields (and seed) fix it:

``"patch"`` (BadNets-style)
    a ``size x size`` square in the bottom-right corner set to ``value`` (replaces the
    pixels).  Large, local, input-independent displacement on the (mostly empty) corner.
``"blend"`` (Chen et al. 2017, random-noise blend)
    ``x -> (1 - alpha) x + alpha p`` with ``p`` a fixed image of i.i.d. uniform [0, 1]
    pixels drawn from ``seed``.  Spread over the whole image; the displacement
    ``alpha (p - x)`` depends on the input.
``"near_clone"`` (feature-space near clone; low amplitude)
    ``x -> clip(x + amplitude * s, 0, 1)`` with ``s`` a fixed seeded sign pattern in
    ``{-1, +1}^784``; with the default ``amplitude = 0.05`` no pixel moves by more than 5%
    of the range and the displacement has norm at most ``0.05 * 28 = 1.4`` (a patch moves
    its corner by about 3, the blend by about 3-5; two different images of the same class
    are typically 5-10 apart).

    *Why this is the near-clone trigger.*  The spike theory (claims C3, C6) puts the
    poison-induced curvature at a test input ``x0`` at ``R_k(x0, zeta) * Delta f(x0)^2``,
    where ``zeta`` is the poison cluster and ``R_k -> 0`` as ``x0 -> zeta`` (for the
    Gaussian kernel like ``r^2 / ell^4``, ``r = |x0 - zeta|``): a triggered input that is a
    *near clone* of the poisons is moved by the attack (``Delta f = O(1)``) while the curvature
    it shows is small.  A dirty-label attack makes the network map all triggered inputs into
    one region of its penultimate feature space, the poisons' (claim C7); the smaller the
    input-space displacement that has to carry the whole attack, the less room there is for
    the triggered inputs to be anywhere but next to the poisons there, and the smaller
    ``r`` in the kernel the trained features induce.  A low-amplitude perturbation spread
    over every pixel is the input-space construction that achieves this without a visible
    mark: poisons ``zeta_i = T(x_i)`` and triggered test inputs ``T(x)`` differ from clean
    images by less than the distance between two clean images.  So the theory predicts
    *little* curvature at near-clone-triggered inputs, at equal attack success, compared with
    the patch.  Whether trained networks follow that prediction is what experiment E2
    measures (it is not assumed here).

:func:`trigger_direction` gives the unit input-space direction of a trigger (per input: the
displacement ``T(x) - x`` it applies, normalised; or the input-free nominal direction), for
the alignment of the input Hessian's top eigenvector with the trigger.  :func:`poison` builds
the poisoned training set (triggered copies of non-target training images *replace* them,
relabelled to the target); :func:`attack_success` is the fraction of triggered non-target test
inputs classified as the target.

Invalid inputs raise :class:`TriggerError` or :class:`PoisonError` (both ``ValueError``),
naming the argument.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch

__all__ = [
    "TRIGGER_KINDS",
    "IMAGE_SHAPE",
    "TriggerError",
    "PoisonError",
    "Trigger",
    "make_trigger",
    "apply_trigger",
    "trigger_direction",
    "Poisoned",
    "poison",
    "attack_success",
]

TRIGGER_KINDS: tuple[str, ...] = ("patch", "blend", "near_clone")
#: (channels, height, width) of the images the triggers are made for
IMAGE_SHAPE: tuple[int, int, int] = (1, 28, 28)


class TriggerError(ValueError):
    """A trigger's settings, or the images given to it, are invalid."""


class PoisonError(ValueError):
    """The arguments of :func:`poison` or :func:`attack_success` are invalid."""


def _check_images(X: torch.Tensor, d: int, name: str = "X") -> torch.Tensor:
    if not isinstance(X, torch.Tensor):
        raise TriggerError(f"{name} must be a torch.Tensor of flat images (n, {d}), got "
                           f"{type(X).__name__}")
    if X.ndim != 2 or X.shape[1] != d:
        raise TriggerError(f"{name} must hold flat images (n, {d}), got shape {tuple(X.shape)}")
    if not X.is_floating_point():
        raise TriggerError(f"{name} must be a floating tensor, got {X.dtype}")
    if not bool(torch.isfinite(X).all()):
        raise TriggerError(f"{name} contains NaN or infinite values")
    return X


@dataclass(frozen=True)
class Trigger:
    """One dirty-label trigger (see the module docstring); every field is part of it.

    ``size``/``value``: the patch; ``alpha``: the blend weight; ``amplitude``: the near-clone
    perturbation; ``seed``: the blend pattern / sign pattern; ``image_shape``: (c, h, w).
    Fields of the other kinds are ignored (but kept, so that :meth:`to_json` is complete).
    """

    kind: str
    size: int = 3
    value: float = 1.0
    alpha: float = 0.2
    amplitude: float = 0.05
    seed: int = 0
    image_shape: tuple[int, int, int] = IMAGE_SHAPE

    def __post_init__(self) -> None:
        if self.kind not in TRIGGER_KINDS:
            raise TriggerError(f"unknown trigger kind {self.kind!r}; use one of {TRIGGER_KINDS}")
        shape = tuple(self.image_shape)
        if len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1
                                  for s in shape):
            raise TriggerError(f"image_shape must be (channels, height, width) of positive ints,"
                               f" got {self.image_shape!r}")
        object.__setattr__(self, "image_shape", shape)
        _, h, w = shape
        if isinstance(self.size, bool) or not isinstance(self.size, int) \
                or not 1 <= self.size <= min(h, w):
            raise TriggerError(f"patch size must be an integer in [1, {min(h, w)}], got "
                               f"{self.size!r}")
        if not (isinstance(self.value, int | float) and 0.0 <= self.value <= 1.0):
            raise TriggerError(f"patch value must be in [0, 1], got {self.value!r}")
        if not (isinstance(self.alpha, int | float) and 0.0 < self.alpha <= 1.0):
            raise TriggerError(f"blend weight alpha must be in (0, 1], got {self.alpha!r}")
        if not (isinstance(self.amplitude, int | float) and 0.0 < self.amplitude <= 1.0):
            raise TriggerError(f"near-clone amplitude must be in (0, 1], got {self.amplitude!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise TriggerError(f"seed must be a non-negative integer, got {self.seed!r}")

    @property
    def d(self) -> int:
        c, h, w = self.image_shape
        return c * h * w

    def to_json(self) -> dict:
        out = dataclasses.asdict(self)
        out["image_shape"] = list(self.image_shape)
        return out

    def pattern(self, *, dtype: torch.dtype = torch.float64,
                device: str | torch.device | None = None) -> torch.Tensor:
        """The trigger's fixed pattern, flat ``(d,)``: the patch mask times ``value``
        (patch), the noise image ``p`` (blend), ``amplitude`` times the sign pattern
        (near clone).  Drawn on the CPU from ``seed`` (the same on every device)."""
        c, h, w = self.image_shape
        g = torch.Generator().manual_seed(self.seed)
        if self.kind == "patch":
            img = torch.zeros(c, h, w, dtype=torch.float64)
            img[:, h - self.size:, w - self.size:] = self.value
            out = img.reshape(-1)
        elif self.kind == "blend":
            out = torch.rand(self.d, generator=g, dtype=torch.float64)
        else:
            signs = torch.randint(0, 2, (self.d,), generator=g).to(torch.float64) * 2 - 1
            out = self.amplitude * signs
        return out.to(dtype=dtype, device=device)

    def mask(self, *, device: str | torch.device | None = None) -> torch.Tensor:
        """Boolean ``(d,)``: the pixels the trigger may change (the patch; all pixels
        otherwise)."""
        c, h, w = self.image_shape
        if self.kind != "patch":
            return torch.ones(self.d, dtype=torch.bool, device=device)
        img = torch.zeros(c, h, w, dtype=torch.bool)
        img[:, h - self.size:, w - self.size:] = True
        return img.reshape(-1).to(device)

    def apply(self, X: torch.Tensor) -> torch.Tensor:
        """The triggered images (a new tensor; ``X`` is not modified)."""
        X = _check_images(X, self.d)
        p = self.pattern(dtype=X.dtype, device=X.device)
        if self.kind == "patch":
            m = self.mask(device=X.device)
            out = X.clone()
            out[:, m] = p[m]
            return out
        if self.kind == "blend":
            return (1.0 - self.alpha) * X + self.alpha * p
        return (X + p).clamp(0.0, 1.0)

    __call__ = apply


def make_trigger(kind: str, **fields: object) -> Trigger:
    """A :class:`Trigger` of ``kind`` with the default settings, overridden by ``fields``."""
    return Trigger(kind, **fields)  # type: ignore[arg-type]


def apply_trigger(X: torch.Tensor, trigger: Trigger) -> torch.Tensor:
    """``trigger.apply(X)``."""
    if not isinstance(trigger, Trigger):
        raise TriggerError(f"trigger must be a Trigger, got {type(trigger).__name__}")
    return trigger.apply(X)


def trigger_direction(trigger: Trigger, X: torch.Tensor | None = None, *,
                      dtype: torch.dtype = torch.float64,
                      device: str | torch.device | None = None) -> torch.Tensor:
    """The unit input-space direction of ``trigger``.

    With ``X`` (flat images ``(n, d)``): per row, the displacement the trigger applies to that
    input, ``(T(x) - x) / |T(x) - x|``, ``(n, d)`` in ``X``'s dtype -- what the alignment with
    the input Hessian's eigenvectors at ``T(x)`` (or ``x``) is measured against.  A row the
    trigger leaves unchanged has no direction: :class:`TriggerError`.

    Without ``X``: the nominal, input-free direction ``(d,)``: the patch's pixels (uniform
    over the square), the blend pattern ``p``, the near-clone sign pattern, normalised.
    """
    if not isinstance(trigger, Trigger):
        raise TriggerError(f"trigger must be a Trigger, got {type(trigger).__name__}")
    if X is None:
        if trigger.kind == "patch":
            v = trigger.mask(device=device).to(dtype)
        else:
            v = trigger.pattern(dtype=dtype, device=device)
        return v / torch.linalg.vector_norm(v)
    X = _check_images(X, trigger.d)
    D = trigger.apply(X) - X
    norms = torch.linalg.vector_norm(D, dim=1, keepdim=True)
    zero = torch.nonzero(norms.flatten() == 0).flatten()
    if zero.numel():
        raise TriggerError(f"the trigger does not change row(s) {zero[:10].tolist()} of X: no "
                           "direction there")
    return D / norms


class Poisoned(NamedTuple):
    """The poisoned training set: inputs, labels and the poison mask (bool ``(n,)``)."""

    X: torch.Tensor
    y: torch.Tensor
    mask: torch.Tensor


def _check_labels(y: torch.Tensor, n: int, name: str = "y") -> torch.Tensor:
    if not isinstance(y, torch.Tensor) or y.ndim != 1 or y.shape[0] != n:
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise PoisonError(f"{name} must be a 1-D tensor of {n} integer labels, got {shape}")
    if y.is_floating_point() or y.dtype == torch.bool:
        raise PoisonError(f"{name} must hold integer labels, got {y.dtype}")
    return y


def _check_target(target: int) -> int:
    if isinstance(target, bool) or not isinstance(target, int) or target < 0:
        raise PoisonError(f"target must be a non-negative integer class, got {target!r}")
    return target


def poison(X: torch.Tensor, y: torch.Tensor, trigger: Trigger, target: int, fraction: float,
           seed: int) -> Poisoned:
    """Dirty-label poisoning: ``round(fraction * n)`` training images whose label is not
    ``target``, chosen with ``seed``, are replaced by their triggered versions relabelled
    ``target``.  Returns :class:`Poisoned` (new tensors; the inputs are not modified) with the
    boolean mask of the poisons.  ``fraction = 0`` returns the clean set and an empty mask."""
    if not isinstance(trigger, Trigger):
        raise PoisonError(f"trigger must be a Trigger, got {type(trigger).__name__}")
    try:
        X = _check_images(X, trigger.d)
    except TriggerError as exc:
        raise PoisonError(str(exc)) from None
    n = X.shape[0]
    y = _check_labels(y, n)
    target = _check_target(target)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) \
            or not math.isfinite(fraction) or not 0.0 <= fraction < 1.0:
        raise PoisonError(f"poison fraction must be in [0, 1), got {fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise PoisonError(f"seed must be a non-negative integer, got {seed!r}")
    m = int(round(fraction * n))
    candidates = torch.nonzero(y != target).flatten().cpu()
    if m > candidates.numel():
        raise PoisonError(f"{m} poisons requested but only {candidates.numel()} training images "
                          f"are not of the target class {target}")
    g = torch.Generator().manual_seed(seed)
    chosen = candidates[torch.randperm(candidates.numel(), generator=g)[:m]].to(X.device)
    Xp, yp = X.clone(), y.clone()
    mask = torch.zeros(n, dtype=torch.bool, device=X.device)
    if m:
        Xp[chosen] = trigger.apply(X[chosen])
        yp[chosen] = target
        mask[chosen] = True
    return Poisoned(Xp, yp, mask)


def _model_dtype_device(model: Callable) -> tuple[torch.dtype, torch.device | None]:
    params = getattr(model, "parameters", None)
    if callable(params):
        for p in params():
            return p.dtype, p.device
    return torch.get_default_dtype(), None


def attack_success(model: Callable[[torch.Tensor], torch.Tensor], X_test: torch.Tensor,
                   y_test: torch.Tensor, trigger: Trigger, target: int, *,
                   batch_size: int = 2048) -> float:
    """The fraction of the *non-target* test inputs that, triggered, ``model`` classifies as
    ``target`` (argmax of its outputs).  ``model`` maps flat images ``(n, d)`` to logits;
    the triggered inputs are cast to its parameters' dtype.  Runs without gradients (and in
    eval mode for an ``nn.Module``, restored afterwards)."""
    if not isinstance(trigger, Trigger):
        raise PoisonError(f"trigger must be a Trigger, got {type(trigger).__name__}")
    try:
        X_test = _check_images(X_test, trigger.d, "X_test")
    except TriggerError as exc:
        raise PoisonError(str(exc)) from None
    y_test = _check_labels(y_test, X_test.shape[0], "y_test")
    target = _check_target(target)
    keep = y_test != target
    if not bool(keep.any()):
        raise PoisonError(f"X_test has no input outside the target class {target}")
    dtype, device = _model_dtype_device(model)
    Xt = trigger.apply(X_test[keep]).to(dtype=dtype, device=device)
    was_training = getattr(model, "training", None)
    if was_training:
        model.eval()  # type: ignore[attr-defined]
    try:
        hits = 0
        with torch.no_grad():
            for i in range(0, Xt.shape[0], batch_size):
                hits += int((model(Xt[i:i + batch_size]).argmax(1) == target).sum())
    finally:
        if was_training:
            model.train()  # type: ignore[attr-defined]
    return hits / Xt.shape[0]
