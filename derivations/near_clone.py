"""C6 -- near-clone invisibility: efficacy stays O(1) while the spike vanishes as r -> 0.

Setting (clone model, C2/C3): ``m`` exact clones of the trigger ``zeta`` with label
``y_t``; a triggered input ``x0 = zeta + r v`` (``|v| = 1``).  Under dominance
(C2, :func:`derivations.prediction_shift.dominance_shift`)::

    Delta f(x0) = k(x0, zeta) y_t S(m; c),      Lambda_GN(x0) = R_k(x0, zeta) Delta f(x0)^2,

with ``R_k = |grad_x log k(x0, zeta)|^2`` (C3).  Everything below is derived from the
one kernel definition in :mod:`derivations.kernels`:

* Gaussian kernel: exact forms of shift and spike in ``r`` and their Taylor series
  (:func:`gaussian_forms`).
* The criterion for ``R_k -> 0`` as ``x0 -> zeta`` (:func:`general_criterion`):
  ``R_k(x0, zeta) -> |grad_x k(x, zeta)|_{x=zeta}|^2 / k(zeta, zeta)^2``, so the spike
  vanishes exactly when ``k(., zeta)`` is stationary at ``zeta``.  For an isotropic
  ``g(r)``: ``R_k = (g'(r) / g(r))^2``; it tends to 0 iff ``g'(0+) = 0``, and then
  ``R_k = g''(0)^2 r^2 / g(0)^2 + O(r^3)``.  For a kernel ``phi(a, b, u)`` smooth on the
  diagonal: ``grad_x k |_{x=zeta} = (2 phi_a + phi_u) zeta`` on ``a = b = u = |zeta|^2``,
  which is identically 0 for isotropic kernels and nonzero for a dot-product kernel with
  ``phi'(|zeta|^2) != 0`` (e.g. linear: ``R_k -> 1/|zeta|^2``).
* :func:`classify_near_clone` applies it to every registered kernel, per family.
  Kernels that are not differentiable at ``x = zeta`` (Laplace; the ReLU NTK) have no
  gradient there; their ``R_k`` is taken along the ray ``zeta + r v``, ``r -> 0+``
  (one-sided), which is what a measurement at a triggered point sees.

Beyond dominance (our derivation, exact clones, C2's conditional kernel ``k~``):
``grad Delta f(x0) = beta m grad_x k~(x0, zeta)`` with
``grad_x k~(zeta, zeta) = -grad_x k_C(zeta)^T (K_CC + cI)^{-1} k_C(zeta)`` for a kernel with
``grad_x k(zeta, zeta) = 0``: the spike at ``r = 0`` is not 0 but a *coupling floor*
``(beta m)^2 |grad_x k_C(zeta)^T A^{-1} k_C(zeta)|^2`` set by clean data near the
trigger (:func:`coupling_floor`); it vanishes under dominance.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import sympy as sp

from derivations.claims import claim_by_slug
from derivations.conventions import c, k_zeta, m, y_t
from derivations.kernels import REGISTRY, KernelSpec, a, b, get_spec, r, u
from derivations.prediction_shift import dominance_shift, k0
from derivations.rank_one_spike import R_k
from derivations.scalar_gain import gain_in

CLAIM = claim_by_slug("near_clone")

__all__ = [
    "CLAIM",
    "s",
    "cpsi",
    "S",
    "DIRECTIONS",
    "rk_isotropic",
    "rk_ray",
    "shift_isotropic",
    "spike_isotropic",
    "gaussian_forms",
    "general_criterion",
    "isotropic_stationarity_identity",
    "NearCloneClass",
    "classify_near_clone",
    "classify_all",
    "coupling_floor",
    "ray_limit_numeric",
    "SYMBOLIC_LIMIT_MAX_OPS",
]

#: |zeta|^2 (dot-product and invariant kernels depend on where the trigger sits)
s = sp.Symbol("s", positive=True)
#: cos(angle between the approach direction v and zeta)
cpsi = sp.Symbol(r"\cos\psi", real=True)
#: the clone gain S(m; c) of C1, as a symbol (its closed form: derivations.scalar_gain)
S = sp.Symbol("S", positive=True)
#: directions (cos psi) at which the one-sided limit is evaluated for kernels without a
#: gradient on the diagonal (SymPy's limit in symbolic cos psi, or at cos psi = +-1, 1/2, takes
#: minutes; these two take seconds)
DIRECTIONS: tuple[sp.Rational, ...] = (sp.Integer(0), sp.Rational(3, 5))

#: above this many operations in ``R_k`` along a ray, the one-sided limit is evaluated
#: numerically (:func:`ray_limit_numeric`) instead of by SymPy's limit (which takes ~20 s
#: for the 270-operation ``ntk_relu`` and does not finish for the 5,000-operation deep NTKs)
SYMBOLIC_LIMIT_MAX_OPS = 1000


def rk_isotropic(spec: KernelSpec) -> sp.Expr:
    """``R_k(r) = |grad_x log k|^2 = A(r)^2 r^2 / g(r)^2`` for an isotropic kernel (C3's
    :func:`derivations.rank_one_spike.R_k`)."""
    if spec.family != "isotropic":
        raise ValueError(f"kernel {spec.name!r} is {spec.family!r}, not isotropic")
    return sp.simplify(R_k(spec))


def rk_ray(spec: KernelSpec) -> sp.Expr:
    """``R_k`` at ``x0 = zeta + r v`` for any kernel written as ``phi(a, b, u)``, as a
    function of ``r``, ``s = |zeta|^2`` and ``cos psi = v . zeta / |zeta|``: C3's ``R_k`` in
    invariants with ``a = s + 2 r sqrt(s) cos psi + r^2``, ``b = s``,
    ``u = s + r sqrt(s) cos psi``."""
    if spec.family == "isotropic":
        # C3 states isotropic R_k in r; on the ray |x0 - zeta| = r whatever s and psi
        return rk_isotropic(spec)
    ray = {a: s + 2 * r * sp.sqrt(s) * cpsi + r**2, b: s, u: s + r * sp.sqrt(s) * cpsi}
    return R_k(spec, simplify=False).subs(ray, simultaneous=True)


def _k_of_r(spec: KernelSpec) -> sp.Expr:
    if spec.family != "isotropic":
        raise ValueError(f"kernel {spec.name!r} is {spec.family!r}, not isotropic")
    return spec.expr


def shift_isotropic(spec: KernelSpec) -> sp.Expr:
    """Dominance shift ``k(x0, zeta) y_t S`` with ``k(x0, zeta) = g(r)`` (C2's formula with
    ``S = m / (c + m k_zeta)`` kept as the symbol :data:`S`)."""
    g = _k_of_r(spec)
    stated = dominance_shift()  # k0 * y_t * m / (c + m k_zeta)
    return stated.subs(gain_in(m, c, k_zeta), S).subs(k0, g)


def spike_isotropic(spec: KernelSpec) -> sp.Expr:
    """Dominance spike ``Lambda_GN = R_k Delta f^2`` as a function of ``r``."""
    return sp.simplify(rk_isotropic(spec) * shift_isotropic(spec) ** 2)


@cache
def gaussian_forms(order: int = 6) -> dict[str, sp.Expr]:
    """Exact shift and spike for the registered Gaussian kernel and their series to
    ``O(r^order)``; also the paper's stated scaling ``S^2 r^2 / ell^4`` and the ratio of
    the exact spike to it (which tends to ``y_t^2``)."""
    spec = get_spec("gaussian")
    ell = spec.params[0].symbol
    shift = shift_isotropic(spec)
    spike = spike_isotropic(spec)
    stated = S**2 * r**2 / ell**4
    return {
        "R_k": rk_isotropic(spec),
        "shift": shift,
        "spike": spike,
        "shift_series": sp.series(shift, r, 0, order).removeO(),
        "spike_series": sp.series(spike, r, 0, order).removeO(),
        "shift_limit": sp.limit(shift, r, 0, "+"),
        "spike_leading": sp.simplify(spike.as_leading_term(r)),
        "paper_spike": stated,
        "ratio_limit": sp.limit(spike / stated, r, 0, "+"),
        "ell": ell,
    }


def general_criterion() -> dict[str, sp.Expr]:
    """The criterion for ``R_k -> 0``, derived for a *generic* kernel.

    Isotropic: with ``g(r) = g0 + g1 r + g2 r^2/2 + g3 r^3/6 + O(r^4)`` (one-sided Taylor
    coefficients at ``0+``), ``R_k = (g'/g)^2``; returned: its series, the limit
    ``g1^2/g0^2`` and the series once ``g1 = 0`` (leading ``g2^2 r^2 / g0^2``).
    Invariant (smooth on the diagonal): ``|grad_x k|^2 / k^2`` at ``x = zeta`` equals
    ``s (2 phi_a + phi_u)^2 / phi^2``.
    """
    g0, g1, g2, g3 = sp.symbols("g_0 g_1 g_2 g_3", real=True)
    g = g0 + g1 * r + g2 * r**2 / 2 + g3 * r**3 / 6
    R = (sp.diff(g, r) / g) ** 2
    series = sp.series(R, r, 0, 3).removeO()
    smooth = sp.series(R.subs(g1, 0), r, 0, 4).removeO()
    phi_a, phi_u, phi = sp.symbols(r"\varphi_a \varphi_u \varphi", real=True)
    # grad_x k = 2 phi_a x + phi_u x'; at x = x' = zeta it is (2 phi_a + phi_u) zeta
    zeta_sq = s
    grad_sq = sp.expand((2 * phi_a + phi_u) ** 2 * zeta_sq)
    return {
        "g0": g0, "g1": g1, "g2": g2,
        "isotropic_R": R,
        "isotropic_series": sp.expand(series),
        "isotropic_limit": sp.limit(R, r, 0),
        "isotropic_series_g1_zero": sp.expand(smooth),
        "invariant_R0": grad_sq / phi**2,
        "phi_a": phi_a, "phi_u": phi_u, "phi": phi,
    }


def isotropic_stationarity_identity() -> sp.Expr:
    """``2 phi_a + phi_u`` for ``phi(a, b, u) = G(a + b - 2u)`` (any isotropic kernel
    written in invariants); simplifies to ``0``: isotropic kernels are stationary at
    ``x = zeta`` whenever they are differentiable there."""
    G = sp.Function("G")
    phi = G(a + b - 2 * u)
    return sp.simplify(2 * sp.diff(phi, a) + sp.diff(phi, u))


@dataclass(frozen=True)
class NearCloneClass:
    """Outcome of :func:`classify_near_clone` for one kernel.

    ``R_k`` is the expression the limit is taken of (in ``r`` for isotropic kernels, in
    ``r, s, cos psi`` otherwise); ``limit`` the limit of ``R_k`` as ``r -> 0+`` (for
    kernels without a diagonal gradient: a dict ``cos psi -> limit`` at ``s = 1`` and
    default parameters); ``order`` the power of ``r`` of the leading term of ``R_k``
    (``0`` when the limit is nonzero); ``leading`` that term; ``verdict`` is
    ``"invisible"`` (R_k -> 0: efficacy O(1), spike -> 0) or ``"visible"``.
    """

    name: str
    family: str
    differentiable: bool
    R_k: sp.Expr
    limit: sp.Expr | dict
    order: int
    leading: sp.Expr
    verdict: str
    reason: str

    @property
    def invisible(self) -> bool:
        return self.verdict == "invisible"


def ray_limit_numeric(expr: sp.Expr, digits: int = 30) -> sp.Float:
    """``lim_{r -> 0+} expr(r)`` of a univariate expression that is analytic in ``r`` on
    ``[0, r0)`` (``expr(r) = L + O(r)``), to ``digits`` significant digits: ``expr`` at
    ``r = 1e-40`` in 200-digit mpmath arithmetic, checked against ``r = 1e-30``.

    This is the case for ``R_k`` along a ray ``zeta + r v`` of the ReLU NTKs of any depth
    with ``beta > 0``: the first layer's ``sin theta_1`` is ``r`` times an analytic
    positive function (the augmented ray direction ``(v, 0)`` is never parallel to
    ``(zeta, beta)``), so every ``acos``/``sqrt`` of the recursion is analytic in ``r`` along
    the ray.  200 digits leave > 60 correct digits after the ``1 - rho ~ r^2`` and ``1/r``
    cancellations.  Raises ``ValueError`` when the two evaluations disagree beyond
    ``1e-20`` relative (the expression is then not of that form).
    """
    import mpmath

    if expr.free_symbols - {r}:
        names = sorted(map(str, expr.free_symbols))
        raise ValueError(f"expected an expression in r only, got symbols {names}")
    f = sp.lambdify(r, expr, modules="mpmath")
    with mpmath.workdps(200):
        near, nearer = (mpmath.mpmathify(f(mpmath.mpf(x))) for x in ("1e-30", "1e-40"))
        if abs(nearer - near) > mpmath.mpf("1e-20") * abs(nearer) or abs(
                mpmath.im(nearer)) > mpmath.mpf("1e-30") * abs(nearer):
            raise ValueError(f"no numeric one-sided limit: {near} at r=1e-30, {nearer} at 1e-40")
        return sp.Float(mpmath.nstr(mpmath.re(nearer), digits + 5), digits)


def _leading(expr: sp.Expr) -> tuple[sp.Expr, int]:
    lt = sp.simplify(expr.as_leading_term(r))
    coeff, power = lt.as_coeff_exponent(r)
    return lt, int(power)


@lru_cache(maxsize=64)
def _classify(spec: KernelSpec) -> NearCloneClass:
    if spec.family == "isotropic":
        R = rk_isotropic(spec)
        lim = sp.simplify(sp.limit(R, r, 0, "+"))
        g1 = sp.limit(sp.diff(spec.expr, r), r, 0, "+")
        if lim == 0:
            lt, order = _leading(R)
            return NearCloneClass(
                spec.name, spec.family, True, R, lim, order, lt, "invisible",
                f"isotropic with g'(0+) = {sp.sstr(g1)}: R_k -> 0 like r^{order}")
        return NearCloneClass(
            spec.name, spec.family, spec.smooth_on_diagonal, R, lim, 0, lim, "visible",
            f"isotropic with g'(0+) = {sp.sstr(g1)} != 0 (a cusp at x = zeta): "
            "R_k -> g'(0+)^2 / g(0)^2 > 0")
    R = rk_ray(spec)
    if spec.smooth_on_diagonal:
        # the gradient extends continuously to the diagonal: the limit is direction-free
        lim = R.subs(r, 0)
        if sp.count_ops(lim) < 150:
            lim = sp.simplify(lim)
            is_zero = lim == 0
        else:  # simplify() takes minutes on arc-cosine / erf forms: decide at s = 1, defaults
            is_zero = abs(float(spec.subs_params(lim).subs(s, 1))) < 1e-14
        if is_zero:
            lt, order = _leading(R)
            return NearCloneClass(spec.name, spec.family, True, R, lim, order, lt, "invisible",
                                  "grad_x k(zeta, zeta) = (2 phi_a + phi_u) zeta = 0")
        return NearCloneClass(
            spec.name, spec.family, True, R, lim, 0, lim, "visible",
            "grad_x k(x, zeta) at x = zeta is (2 phi_a + phi_u) zeta != 0: R_k -> "
            "s (2 phi_a + phi_u)^2 / phi^2 > 0 (for zeta != 0)")
    # no gradient on the diagonal: one-sided limits along rays, at s = 1, default params
    Rn = spec.subs_params(R).subs(s, 1)
    symbolic = sp.count_ops(Rn) <= SYMBOLIC_LIMIT_MAX_OPS
    if symbolic:
        lims = {cp: sp.nsimplify(sp.limit(Rn.subs(cpsi, cp), r, 0, "+")) for cp in DIRECTIONS}
    else:  # deep NTKs: analytic along the ray, limit to 30 digits (ray_limit_numeric)
        lims = {cp: ray_limit_numeric(Rn.subs(cpsi, cp)) for cp in DIRECTIONS}
    vals = [float(v) for v in lims.values()]
    visible = min(vals) > 0
    direction_dependent = max(vals) - min(vals) > 1e-12 * max(vals)
    reason = ("not differentiable at x = zeta; one-sided R_k along zeta + r v tends to "
              f"{', '.join(f'{v:.4g}' for v in vals)} for cos psi = "
              f"{', '.join(str(cp) for cp in DIRECTIONS)} (s = |zeta|^2 = 1, default "
              "parameters" + ("" if symbolic else "; limits evaluated to 30 digits") + ")"
              + ("; the limit depends on the direction (a cone)"
                 if direction_dependent else ""))
    return NearCloneClass(spec.name, spec.family, False, R, lims, 0 if visible else -1,
                          sp.Float(min(vals)), "visible" if visible else "undetermined",
                          reason)


def classify_near_clone(spec: KernelSpec | str) -> NearCloneClass:
    """Classify a registered kernel (a spec or its name): does ``R_k -> 0`` as
    ``x0 -> zeta``, at which order in ``r``, and why (see the module docstring)."""
    if not isinstance(spec, (str, KernelSpec)):
        raise TypeError(f"spec must be a KernelSpec or a registered kernel name, got {spec!r}")
    return _classify(get_spec(spec) if isinstance(spec, str) else spec)


def classify_all() -> list[NearCloneClass]:
    """:func:`classify_near_clone` for every kernel in the registry (built-in and user)."""
    return [classify_near_clone(sp_) for sp_ in REGISTRY.values()]


def coupling_floor() -> dict[str, sp.Expr]:
    """The exact (no-dominance) spike at ``r = 0`` for a kernel with
    ``grad_x k(zeta, zeta) = 0``, in C2's notation.

    ``grad_x Delta f(x0) = m beta grad_x k~(x0, zeta)``, ``beta = (y_t - f_C(zeta)) /
    (c + m k~_zeta)``; at ``x0 = zeta`` only the clean-coupling part of ``grad_x k~``
    survives: ``grad_x k~(zeta, zeta) = -J^T w`` with ``J = grad_x k_C(zeta)`` (rows
    ``grad_x k(zeta, x_i)``) and ``w = (K_CC + cI)^{-1} k_C(zeta)``.  Returned as symbols:
    the floor is ``(m beta)^2 |J^T w|^2``.
    """
    from derivations.prediction_shift import f_Cz, ktz

    JTw_sq = sp.Symbol(r"\lVert J^\top w\rVert^2", nonnegative=True)
    beta_ = (y_t - f_Cz) / (c + m * ktz)
    return {"floor": (m * beta_) ** 2 * JTw_sq, "JTw_sq": JTw_sq, "beta": beta_}
