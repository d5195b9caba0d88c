"""Kernels, defined once, symbolically.

Every kernel of the suite is a :class:`KernelSpec`: a SymPy expression in the
*invariants* of a pair of inputs ``x, x'`` in R^d, never in coordinates, so one
definition serves every dimension.  Three families:

``isotropic``
    ``k = g(r)`` with ``r = |x - x'|`` (symbol :data:`r`).
``dot_product``
    ``k = phi(u)`` with ``u = x . x'`` (symbol :data:`u`).
``invariant``
    ``k = phi(a, b, u)`` with ``a = |x|^2``, ``b = |x'|^2``, ``u = x . x'``
    (every rotation-invariant kernel, e.g. the arc-cosine / NTK kernels).

From the one expression SymPy derives the input gradient and input Hessian in
``x`` (coordinate-free, see :func:`gradient_coefficients`), the behaviour on the
diagonal ``x = x'`` (limits), and, for any fixed ``d``, the kernel in explicit
coordinates (:meth:`KernelSpec.coordinate_expr`) used by the symbolic checks.
The torch evaluation in :mod:`numerics.kernels` is generated from these
expressions with :func:`sympy.lambdify`.

Adding a kernel is one :class:`KernelSpec` plus one call of
:func:`numerics.registration.register_kernel`, which checks numerically that it is a
valid (positive semi-definite) kernel before deriving anything; see the README, "Adding
a kernel".  This module stays symbolic: :func:`add_to_registry` is the unchecked
low-level insertion used for the built-ins, and every symbolic step of a derivation can
run under a time budget (:mod:`derivations.budget`).  A malformed specification raises
:class:`KernelSpecError` naming what is wrong.
"""

from __future__ import annotations

import contextlib
import keyword
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from typing import Literal

import sympy as sp

from derivations import symcache
from derivations.budget import SymbolicTimeout, symbolic_budget

__all__ = [
    "r",
    "u",
    "a",
    "b",
    "Param",
    "KernelSpec",
    "GradientCoefficients",
    "REGISTRY",
    "add_to_registry",
    "unregister",
    "KernelSpecError",
    "DuplicateKernelError",
    "SymbolicTimeout",
    "FAMILIES",
    "FAMILY_VARIABLES",
    "get_spec",
    "kernel_names",
    "UnknownKernelError",
    "BUILTIN_NAMES",
    "iter_specs",
    "singular_on_diagonal",
    "SIMPLIFY_MAX_OPS",
]

Family = Literal["isotropic", "dot_product", "invariant"]

#: the three kernel families
FAMILIES: tuple[str, ...] = ("isotropic", "dot_product", "invariant")

#: distance |x - x'| (isotropic kernels)
r = sp.Symbol("r", nonnegative=True)
#: inner product x . x'
u = sp.Symbol("u", real=True)
#: squared norms |x|^2 and |x'|^2
a = sp.Symbol("a", nonnegative=True)
b = sp.Symbol("b", nonnegative=True)
#: a generic positive value used to put a pair on the diagonal (a = b = u = t)
_t = sp.Symbol("t", positive=True)

#: the variables of each family (the canonical symbols above)
FAMILY_VARIABLES: dict[str, tuple[sp.Symbol, ...]] = {
    "isotropic": (r,), "dot_product": (u,), "invariant": (a, b, u)}


class KernelSpecError(ValueError):
    """A malformed kernel specification (name, family, expression or parameters)."""


class DuplicateKernelError(KernelSpecError):
    """A kernel of that name is already registered (pass ``replace=True`` to replace it)."""


class UnknownKernelError(KeyError):
    """Raised for a kernel name that is not in the registry."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "unknown kernel"


@dataclass(frozen=True)
class Param:
    """A kernel hyper-parameter: its SymPy symbol (with assumptions), default value and
    declared range.

    ``bounds = (lo, hi)`` (inclusive; ``None`` for an open end) is the range in which the
    kernel is meant to be used: values outside it are refused by :meth:`validate`, and the
    Hypothesis strategies and claim checks draw only inside it (e.g. ``exp(u / s**2)``
    overflows for small ``s``: declare ``bounds=(0.5, None)``).  ``None`` means only the
    symbol's assumptions apply.
    """

    symbol: sp.Symbol
    default: float | int
    doc: str = ""
    bounds: tuple[float | int | None, float | int | None] | None = None

    def __post_init__(self) -> None:
        import math

        if not isinstance(self.symbol, sp.Symbol):
            raise TypeError(f"Param symbol must be a sympy Symbol, got {self.symbol!r}")
        if self.bounds is not None:
            if not (isinstance(self.bounds, tuple) and len(self.bounds) == 2):
                raise ValueError(f"parameter {self.name!r}: bounds must be a pair (lo, hi), "
                                 f"got {self.bounds!r}")
            lo, hi = self.bounds
            for end in (lo, hi):
                if end is not None and (isinstance(end, bool) or not isinstance(
                        end, (int, float)) or not math.isfinite(end)):
                    raise ValueError(f"parameter {self.name!r}: bounds must be finite numbers "
                                     f"or None, got {self.bounds!r}")
            if lo is not None and hi is not None and not lo <= hi:
                raise ValueError(f"parameter {self.name!r}: empty range {self.bounds!r}")
        self.validate(self.default, what="default")

    @property
    def name(self) -> str:
        return self.symbol.name

    def validate(self, value: float | int, *, what: str = "value") -> float | int:
        """Check ``value`` against the symbol's assumptions and the declared ``bounds``;
        raise ``ValueError`` (``TypeError`` for a non-number) naming the parameter."""
        import math

        if isinstance(value, bool) or type(value).__name__ in ("bool_", "bool"):
            raise TypeError(f"parameter {self.name!r} must be a real number, got {value!r}")
        if not isinstance(value, (int, float)):
            try:
                value = float(value)  # numpy / torch scalars
            except (TypeError, ValueError, RuntimeError):
                raise TypeError(
                    f"parameter {self.name!r} must be a real number, got {value!r}"
                ) from None
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int beyond float64
            finite = False
        if not finite:
            raise ValueError(f"parameter {self.name!r} must be finite, got {value!r}")
        s = self.symbol
        if s.is_integer and float(value) != int(value):
            raise ValueError(f"parameter {self.name!r} must be an integer, got {value!r}")
        if s.is_positive and not value > 0:
            raise ValueError(f"parameter {self.name!r} must be positive, got {value!r}")
        if s.is_nonnegative and not value >= 0:
            raise ValueError(f"parameter {self.name!r} must be non-negative, got {value!r}")
        if self.bounds is not None:
            lo, hi = self.bounds
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ValueError(f"parameter {self.name!r}: {what} {value!r} is outside its "
                                 f"declared range [{lo}, {hi}]")
        return int(value) if s.is_integer else float(value)


@dataclass(frozen=True)
class GradientCoefficients:
    """Coordinate-free input derivatives of a kernel, as SymPy expressions.

    Isotropic kernels ``g(r)``, with ``delta = x - x'`` and ``n = delta / r``::

        grad_x k = A(r) * delta,            A = g'(r) / r
        hess_x k = A(r) * I + C(r) * n n^T, C = g''(r) - g'(r) / r

    ``A0`` and ``C0`` are the limits at ``r -> 0`` (``None`` when infinite or
    undefined: the kernel is then not twice differentiable on the diagonal).

    Invariant kernels ``phi(a, b, u)`` (dot-product kernels are the case
    ``phi = phi(u)``)::

        grad_x k = 2 phi_a x + phi_u x'
        hess_x k = 2 phi_a I + 4 phi_aa x x^T + 2 phi_au (x x'^T + x' x^T) + phi_uu x' x'^T
    """

    family: Family
    terms: Mapping[str, sp.Expr]
    diagonal: Mapping[str, sp.Expr | None]


@dataclass(frozen=True, eq=False)  # identity semantics: hashable, cacheable
class KernelSpec:
    """One kernel, defined once.

    Parameters
    ----------
    name:
        Registry key (``snake_case``).
    family:
        ``"isotropic"`` (expression in :data:`r`), ``"dot_product"`` (in :data:`u`) or
        ``"invariant"`` (in :data:`a`, :data:`b`, :data:`u`).
    expr:
        The kernel as a SymPy expression in the family's variables and the parameters.
    params:
        Hyper-parameters with SymPy assumptions and defaults.
    title:
        Human-readable name for tables.
    notes:
        One sentence shown in the book (provenance, parametrisation).
    overrides:
        Optional hand-written torch functions replacing generated ones, keyed like
        :attr:`numerics.kernels.TorchKernel.generated`; each is tested against the
        generated form by the contract tests.
    singular:
        For kernels that are not differentiable off the diagonal too: a non-negative,
        dimensionless expression in the family's variables that vanishes exactly where
        the kernel has no derivative (e.g. ``sin^2`` of the angle for arc-cosine kernels).
        Derivatives are refused where it is below ``numerics.kernels.SINGULAR_TOL``.
    definition:
        Optional LaTeX shown in the book in place of ``expr`` when that is too long to read
        (e.g. the layer recursion of a deep NTK); generated from code, never re-typed.
    network:
        Optional symbolic description of the network whose infinite-width kernel this is
        (a :mod:`derivations.ntk_kernels` architecture object, plain data); the torch side
        (:mod:`numerics.kernels`) evaluates such kernels with a numerically stable layer
        recursion generated from the same per-layer maps instead of the expanded ``expr``.
    """

    name: str
    family: Family
    expr: sp.Expr
    params: tuple[Param, ...] = ()
    title: str = ""
    notes: str = ""
    overrides: Mapping[str, Callable] = field(default_factory=dict)
    singular: sp.Expr | None = None
    definition: str = ""
    network: object | None = None

    def __post_init__(self) -> None:
        _validate_spec(self)

    # ------------------------------------------------------------------ params
    @property
    def param_symbols(self) -> tuple[sp.Symbol, ...]:
        return tuple(p.symbol for p in self.params)

    def defaults(self) -> dict[str, float | int]:
        return {p.name: p.default for p in self.params}

    def resolve_params(self, **values: float | int) -> dict[str, float | int]:
        """Defaults overridden by ``values``; unknown or invalid values raise."""
        known = {p.name: p for p in self.params}
        unknown = set(values) - set(known)
        if unknown:
            raise TypeError(
                f"kernel {self.name!r} has no parameter(s) {sorted(unknown)}; "
                f"its parameters are {sorted(known)}"
            )
        out = self.defaults()
        out.update(values)
        return {k: known[k].validate(v) for k, v in out.items()}

    def subs_params(self, expr: sp.Expr, **values: float | int) -> sp.Expr:
        """Substitute numeric parameter values (exact rationals where possible)."""
        vals = self.resolve_params(**values)
        return expr.subs({p.symbol: exact_number(vals[p.name]) for p in self.params})

    # --------------------------------------------------------------- variables
    @property
    def variables(self) -> tuple[sp.Symbol, ...]:
        return {"isotropic": (r,), "dot_product": (u,), "invariant": (a, b, u)}[self.family]

    def invariant_expr(self) -> sp.Expr:
        """The kernel as ``phi(a, b, u)`` for every family (isotropic: ``r = sqrt(a+b-2u)``)."""
        if self.family == "isotropic":
            return self.expr.subs(r, sp.sqrt(a + b - 2 * u))
        return self.expr

    def coordinate_expr(
        self, d: int
    ) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...], sp.Expr]:
        """``(x, y, k(x, y))`` with explicit real coordinates ``x_1..x_d``, ``y_1..y_d``."""
        xs = sp.symbols(f"x1:{d + 1}", real=True)
        ys = sp.symbols(f"y1:{d + 1}", real=True)
        inv = {
            a: sum(xi**2 for xi in xs),
            b: sum(yi**2 for yi in ys),
            u: sum(xi * yi for xi, yi in zip(xs, ys, strict=True)),
        }
        if self.family == "isotropic":
            rr = sp.sqrt(sum((xi - yi) ** 2 for xi, yi in zip(xs, ys, strict=True)))
            return xs, ys, self.expr.subs(r, rr)
        return xs, ys, self.expr.subs(inv, simultaneous=True)

    # ------------------------------------------------------------- derivatives
    @cached_property
    def coefficients(self) -> GradientCoefficients:
        """The derived coefficients (no time budget here: a kernel registered through
        :func:`numerics.registration.register_kernel` has them derived under its budget by
        :meth:`derive` first)."""
        return gradient_coefficients(self)

    @cached_property
    def value_at_zero(self) -> sp.Expr | None:
        """Isotropic kernels: ``g(0)`` as the limit ``r -> 0+`` (equal to ``g(0)`` by
        substitution where that is defined; the limit for a removable singularity such as
        ``(1 - exp(-r^2)) / r^2``); ``None`` when there is no finite limit.  Other
        families: ``None``."""
        if self.family != "isotropic":
            return None
        return _radial_value(self.expr)

    @cached_property
    def removable_at_zero(self) -> bool:
        """Isotropic kernels whose expression cannot be evaluated at ``r = 0`` by plain
        substitution (``0/0``), but has a finite limit there (:attr:`value_at_zero`)."""
        if self.family != "isotropic":
            return False
        direct = self.expr.subs(r, 0)
        bad = direct.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or not direct.is_finite
        return bool(bad and self.value_at_zero is not None)

    def derive(self, *, seconds: float | None = None) -> GradientCoefficients:
        """Derive (and cache) :attr:`coefficients` and :attr:`value_at_zero` with every
        symbolic step under a time budget of ``seconds`` each (``None``: the configured
        budget, see :func:`derivations.budget.budget_seconds`).

        Raises
        ------
        SymbolicTimeout
            Naming the kernel and the step that ran out of time.
        """
        self.zero_value(seconds=seconds)
        if "coefficients" not in self.__dict__:
            self.__dict__["coefficients"] = gradient_coefficients(self, seconds=seconds)
        return self.__dict__["coefficients"]

    def zero_value(self, *, seconds: float | None = None) -> sp.Expr | None:
        """:attr:`value_at_zero`, computed (once) with its symbolic steps under a budget
        of ``seconds`` each (``None``: the configured budget; ``0``: none)."""
        if "value_at_zero" not in self.__dict__:
            self.__dict__["value_at_zero"] = (
                _radial_value(self.expr, self.name, seconds, "kernel value at r = 0")
                if self.family == "isotropic" else None)
        return self.__dict__["value_at_zero"]

    @cached_property
    def smooth_on_diagonal(self) -> bool:
        """Whether the input gradient and Hessian extend continuously to ``x = x'``."""
        return all(v is not None for v in self.coefficients.diagonal.values())

    @property
    def latex(self) -> str:
        return sp.latex(self.expr)


_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def _set(spec: KernelSpec, attr: str, value: object) -> None:
    object.__setattr__(spec, attr, value)  # frozen dataclass: normalise in __post_init__


def _as_expression(spec: KernelSpec, value: object, what: str,
                   names: Mapping[str, sp.Symbol]) -> sp.Expr:
    """``value`` as a SymPy expression: SymPy objects as they are, Python numbers and
    strings through ``sympify`` (names in a string mean the family variables and the
    declared parameters); anything else is refused."""
    if isinstance(value, sp.Basic):
        expr = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        expr = sp.sympify(value)
    elif isinstance(value, str):
        try:
            expr = sp.sympify(value, locals=dict(names))
        except (sp.SympifyError, SyntaxError, TypeError) as err:
            raise KernelSpecError(f"kernel {spec.name!r}: {what} {value!r} is not a valid "
                                  f"SymPy expression ({err})") from None
    else:
        raise KernelSpecError(f"kernel {spec.name!r}: {what} must be a SymPy expression "
                              f"(or a number or string SymPy can read), got "
                              f"{type(value).__name__} {value!r}")
    if not isinstance(expr, sp.Expr) or isinstance(expr, (sp.Tuple,)) or expr.is_Boolean:
        raise KernelSpecError(f"kernel {spec.name!r}: {what} must be a scalar expression, "
                              f"got {expr!r}")
    return expr


def _canonical(spec: KernelSpec, expr: sp.Expr, what: str,
               names: Mapping[str, sp.Symbol]) -> sp.Expr:
    """Replace symbols that are *named* like a family variable or a declared parameter
    but are other SymPy symbols (a fresh ``Symbol('r')`` without assumptions) by the
    canonical ones; refuse symbols that are neither."""
    swap = {s: names[s.name] for s in expr.free_symbols
            if s.name in names and s != names[s.name]}
    if swap:
        expr = expr.xreplace(swap)
    allowed = set(names.values()) - ({r, u, a, b} - set(spec.variables))
    extra = expr.free_symbols - allowed
    if extra:
        others = sorted(s.name for s in extra)
        raise KernelSpecError(
            f"kernel {spec.name!r}: {what} has symbols {others} that are neither variables "
            f"of the {spec.family!r} family ({', '.join(v.name for v in spec.variables)}) "
            f"nor declared parameters ({', '.join(p.name for p in spec.params) or 'none'}); "
            f"declare each parameter with Param(symbol, default)"
        )
    return expr


def _validate_spec(spec: KernelSpec) -> None:
    """Check and normalise a :class:`KernelSpec` (see :class:`KernelSpecError`)."""
    name = spec.name
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise KernelSpecError(f"kernel name must be a snake_case identifier (lower-case "
                              f"letters, digits, underscores, starting with a letter), "
                              f"got {name!r}")
    if spec.family not in FAMILIES:
        raise KernelSpecError(f"kernel {name!r}: unknown family {spec.family!r}; the "
                              f"families are {', '.join(map(repr, FAMILIES))}")
    params = spec.params
    if isinstance(params, Param):
        params = (params,)
    if not isinstance(params, (tuple, list)):
        raise KernelSpecError(f"kernel {name!r}: params must be a tuple of Param, got "
                              f"{type(params).__name__}")
    for p in params:
        if not isinstance(p, Param):
            raise KernelSpecError(f"kernel {name!r}: every parameter must be a Param("
                                  f"symbol, default, ...), got {p!r}")
        if not p.name.isidentifier() or keyword.iskeyword(p.name):
            raise KernelSpecError(f"kernel {name!r}: parameter name {p.name!r} is not a "
                                  f"Python identifier")
        if p.name in ("r", "u", "a", "b"):
            raise KernelSpecError(f"kernel {name!r}: parameter name {p.name!r} is reserved "
                                  f"for a family variable (r, u, a, b)")
    seen = [p.name for p in params]
    dup = sorted({n for n in seen if seen.count(n) > 1})
    if dup:
        raise KernelSpecError(f"kernel {name!r}: duplicate parameter names {dup}")
    _set(spec, "params", tuple(params))
    names = {v.name: v for v in (r, u, a, b)} | {p.name: p.symbol for p in params}
    expr = _as_expression(spec, spec.expr, "expression", names)
    _set(spec, "expr", _canonical(spec, expr, "expression", names))
    if spec.singular is not None:
        sing = _as_expression(spec, spec.singular, "singular", names)
        _set(spec, "singular", _canonical(spec, sing, "singular", names))
    if not isinstance(spec.overrides, Mapping) or not all(
            isinstance(k, str) and callable(f) for k, f in spec.overrides.items()):
        raise KernelSpecError(f"kernel {name!r}: overrides must map names to callables")
    for attr in ("title", "notes", "definition"):
        if not isinstance(getattr(spec, attr), str):
            raise KernelSpecError(f"kernel {name!r}: {attr} must be a string")


def check_real(spec: KernelSpec, *, seconds: float | None = None) -> None:
    """Refuse a kernel whose expression is not real at generic points of its domain
    (e.g. ``sqrt(u)`` of a dot-product kernel at ``u < 0``), at the default parameters.
    Runs under the symbolic budget."""
    pts = {"isotropic": [{r: sp.Rational(7, 10)}, {r: sp.Rational(13, 10)}],
           "dot_product": [{u: sp.Rational(3, 5)}, {u: sp.Rational(-3, 5)}],
           "invariant": [{a: sp.Rational(6, 5), b: sp.Rational(4, 5), u: sp.Rational(3, 10)},
                         {a: sp.Rational(6, 5), b: sp.Rational(4, 5), u: sp.Rational(-1, 2)}]}
    expr = spec.subs_params(spec.expr)
    for pt in pts[spec.family]:
        with symbolic_budget(spec.name, "evaluation at a probe point", seconds):
            val = expr.subs(pt).evalf(30)
        try:
            c = complex(val)
        except (TypeError, ValueError):
            raise KernelSpecError(f"kernel {spec.name!r}: the expression does not evaluate "
                                  f"to a number at {pt} (got {val})") from None
        if c.imag != 0 and abs(c.imag) > 1e-20 * max(1.0, abs(c.real)):
            where = ", ".join(f"{k} = {v}" for k, v in pt.items())
            raise KernelSpecError(f"kernel {spec.name!r}: the expression is not real at "
                                  f"{where} (value {c}); a kernel must be real-valued")


def exact_number(value: float | int) -> sp.Expr:
    """The SymPy number equal to a Python number: an Integer, a short Rational when that
    is exact (0.5 -> 1/2), else a 30-digit Float holding the double's exact value (cheap
    to compute with, unlike the 2^-52 binary fraction)."""
    if isinstance(value, int):
        return sp.Integer(value)
    q = sp.nsimplify(value, rational=True)
    if float(q) == value and q.q < 10**6:
        return q
    return sp.Float(value, 30)


def _step(kernel: str, step: str, seconds: float | None):
    """The time budget of one symbolic step (``seconds == 0``: none, the default for the
    built-ins, which are derived lazily and tested; see :func:`gradient_coefficients`)."""
    if seconds == 0:
        return contextlib.nullcontext()
    return symbolic_budget(kernel, step, seconds)


def _finite_limit(expr: sp.Expr, var: sp.Symbol, point: sp.Expr, kernel: str = "",
                  seconds: float | None = 0, what: str = "limit") -> sp.Expr | None:
    try:
        with _step(kernel, what, seconds):
            val = sp.limit(expr, var, point, "+")
    except (NotImplementedError, ValueError) as err:  # pragma: no cover - SymPy gave up
        if isinstance(err, SymbolicTimeout):
            raise
        return None
    with _step(kernel, f"simplify of the {what}", seconds):
        val = sp.simplify(val)
    if val.has(sp.oo, -sp.oo, sp.zoo, sp.nan) or isinstance(val, sp.AccumBounds):
        return None
    return val


#: functions that are discontinuous at finite arguments: an expression containing one is
#: never evaluated on the diagonal by substitution (its limit is taken instead)
_DISCONTINUOUS = (sp.Piecewise, sp.sign, sp.Heaviside, sp.floor, sp.ceiling, sp.frac,
                  sp.DiracDelta, sp.arg, sp.re, sp.im)

#: diagonal values found by substitution are simplified only below this many operations
#: (simplify takes ~40 s on a 300-operation deep-NTK coefficient; it changes no value)
SIMPLIFY_MAX_OPS = 150


def _probe_values(expr: sp.Expr) -> list[dict]:
    """Generic numeric points for the free symbols of ``expr`` (exact rationals that no
    kernel expression is singular at by construction: never 0, 1 or a small integer)."""
    free = sorted(expr.free_symbols, key=str)
    probes = []
    for k, base in enumerate((sp.Rational(7, 5), sp.Rational(13, 17))):
        probes.append({sym: base + sp.Rational(j + k, 29) for j, sym in enumerate(free)})
    return probes


def _is_finite_number(val: sp.Expr) -> bool:
    if not val.is_number:
        return False
    try:
        c = complex(val.evalf(30))
    except (TypeError, ValueError):  # pragma: no cover - not a number
        return False
    return bool(abs(c.imag) <= 1e-20 * max(1.0, abs(c.real))) and abs(c.real) < float("inf")


def _substituted(expr: sp.Expr, point: Mapping[sp.Symbol, sp.Expr], kernel: str = "",
                 seconds: float | None = 0, what: str = "value") -> sp.Expr | None:
    """``expr`` at ``point`` by plain substitution, or ``None`` when that is not its limit.

    Substitution gives the limit whenever ``expr`` is continuous at ``point``.  A
    composition of elementary functions is continuous wherever it evaluates finite and
    real, except for functions with jumps (:data:`_DISCONTINUOUS`, refused here).  So the
    value is accepted when SymPy's result has no ``nan``/``zoo``/``oo`` and is finite and
    real at two generic numeric points of the remaining symbols (a hidden ``0/0`` that
    SymPy did not cancel shows up there); otherwise the caller takes the limit.
    """
    if expr.has(*_DISCONTINUOUS):
        return None
    with _step(kernel, f"substitution for the {what}", seconds):
        try:
            val = expr.subs(point)
        except (TypeError, ValueError, ZeroDivisionError):  # pragma: no cover - SymPy failed
            return None
        if val.has(sp.oo, -sp.oo, sp.zoo, sp.nan) or isinstance(val, sp.AccumBounds):
            return None
        if not all(_is_finite_number(val.subs(probe)) for probe in _probe_values(val)):
            return None
    if sp.count_ops(val) <= SIMPLIFY_MAX_OPS:
        with _step(kernel, f"simplify of the {what}", seconds):
            val = sp.simplify(val)
    return val


def _diagonal_value(expr: sp.Expr, kernel: str = "", seconds: float | None = 0,
                    what: str = "diagonal value") -> sp.Expr | None:
    """Value of an invariant coefficient on the diagonal a = b = u = t (t > 0).

    First by substitution (cheap; exact where the coefficient is continuous there, see
    :func:`_substituted`), else as the limit along u -> t from below (|u| <= sqrt(ab) by
    Cauchy-Schwarz), which is what the diagonal value means.
    """
    val = _substituted(expr, {a: _t, b: _t, u: _t}, kernel, seconds, what)
    if val is not None:
        return val
    eps = sp.Symbol("eps_", positive=True)
    return _finite_limit(expr.subs({a: _t, b: _t}).subs(u, _t * (1 - eps)), eps, 0,
                         kernel, seconds, f"limit for the {what}")


def _radial_value(expr: sp.Expr, kernel: str = "", seconds: float | None = 0,
                  what: str = "value at r = 0") -> sp.Expr | None:
    """Value of an isotropic coefficient at r -> 0+ (substitution first, as above)."""
    val = _substituted(expr, {r: sp.Integer(0)}, kernel, seconds, what)
    return val if val is not None else _finite_limit(expr, r, 0, kernel, seconds,
                                                     f"limit r -> 0 of the {what}")


def singular_on_diagonal(spec: KernelSpec, seconds: float | None = 0) -> bool:
    """Whether ``spec.singular`` vanishes on the diagonal ``a = b = u = t``: the kernel
    then has no input derivative at ``x = x'`` (numerics refuses derivatives where the
    singular expression is below ``SINGULAR_TOL``), so its diagonal coefficients are
    undefined without taking any limit.  Decided symbolically, else numerically at
    generic ``t`` and parameter values."""
    if spec.singular is None or spec.family == "isotropic":
        return False
    with _step(spec.name, "singular set on the diagonal", seconds):
        val = spec.singular.subs({a: _t, b: _t, u: _t})
        if val.is_number or sp.count_ops(val) <= SIMPLIFY_MAX_OPS:
            val = sp.simplify(val)
    if val == 0:
        return True
    probes = _probe_values(val)
    return all(_is_finite_number(val.subs(p)) and abs(float(val.subs(p).evalf(30))) < 1e-20
               for p in probes)


#: the files whose code the cached derivations of this module depend on
_DERIVATION_CODE = ("derivations/kernels.py", "derivations/symcache.py")


def spec_fingerprint(spec: KernelSpec) -> tuple[str, ...]:
    """What a derivation from ``spec`` depends on, as text (the keys of the on-disk
    cache, :mod:`derivations.symcache`): family, expression, singular set and the parameter
    symbols with their assumptions (not the name: two names for one kernel share results)."""
    return (spec.family, sp.srepr(spec.expr),
            "" if spec.singular is None else sp.srepr(spec.singular),
            "|".join(sp.srepr(p.symbol) for p in spec.params))


def gradient_coefficients(spec: KernelSpec, *, seconds: float | None = 0
                          ) -> GradientCoefficients:
    """The coordinate-free gradient / Hessian coefficients of ``spec`` (see
    :func:`derive_coefficients`), read from the on-disk symbolic cache when another
    process derived them already (:mod:`derivations.symcache`; a miss derives them, each
    step under ``seconds``, and stores them)."""
    key = symcache.make_key("coefficients", symcache.code_fingerprint(_DERIVATION_CODE),
                            *spec_fingerprint(spec))

    def compute() -> dict:
        c = derive_coefficients(spec, seconds=seconds)
        return {"family": c.family, "terms": dict(c.terms), "diagonal": dict(c.diagonal)}

    out = symcache.cached_sympy(key, compute)
    return GradientCoefficients(family=out["family"], terms=out["terms"],
                                diagonal=out["diagonal"])


def derive_coefficients(spec: KernelSpec, *, seconds: float | None = 0
                        ) -> GradientCoefficients:
    """Derive the coordinate-free gradient / Hessian coefficients of ``spec`` (see
    :class:`GradientCoefficients`).

    ``seconds`` is the time budget of each symbolic step (differentiation, ``simplify``,
    each diagonal value or limit): ``0`` (the default, used for the built-ins) means no
    limit, ``None`` the configured budget (:func:`derivations.budget.budget_seconds`); a
    step that exceeds it raises :class:`~derivations.budget.SymbolicTimeout`.

    The diagonal values: ``None`` for every coefficient of a kernel whose declared
    ``singular`` set contains the diagonal (:func:`singular_on_diagonal`; no limit is
    taken, which for the deep ReLU NTKs would not finish); otherwise substitution where
    it is exact and SymPy's limit where it is not (:func:`_diagonal_value`).
    """
    name = spec.name
    if spec.family == "isotropic":
        g = spec.expr
        with _step(name, "derivatives in r", seconds):
            g1 = sp.diff(g, r)
            g2 = sp.diff(g, r, 2)
        with _step(name, "simplify of A = g'/r", seconds):
            A = sp.simplify(g1 / r)
        with _step(name, "simplify of C = g'' - g'/r", seconds):
            C = sp.simplify(g2 - g1 / r)
        return GradientCoefficients(
            family="isotropic",
            terms={"A": A, "C": C},
            diagonal={"A": _radial_value(A, name, seconds, "coefficient A at r = 0"),
                      "C": _radial_value(C, name, seconds, "coefficient C at r = 0")},
        )
    phi = spec.invariant_expr()
    with _step(name, "derivatives in a, u", seconds):
        terms = {
            "phi_a": sp.diff(phi, a),
            "phi_u": sp.diff(phi, u),
            "phi_aa": sp.diff(phi, a, 2),
            "phi_au": sp.diff(phi, a, u),
            "phi_uu": sp.diff(phi, u, 2),
        }
    # no simplify(): it costs seconds on the arc-cosine kernels and changes nothing numerically
    if spec.family == "dot_product":
        diagonal = {k: (v if v.is_finite is not False else None) for k, v in terms.items()}
    elif singular_on_diagonal(spec, seconds):
        diagonal = dict.fromkeys(terms)
    else:
        diagonal = {k: _diagonal_value(v, name, seconds, f"diagonal value of {k}")
                    for k, v in terms.items()}
    return GradientCoefficients(family=spec.family, terms=terms, diagonal=diagonal)


# ---------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------

REGISTRY: dict[str, KernelSpec] = {}


def add_to_registry(spec: KernelSpec, *, replace: bool = False) -> KernelSpec:
    """Insert ``spec`` into :data:`REGISTRY` **without any check** (low level).

    The built-ins are inserted this way (they are covered by the contract tests).  User
    kernels go through :func:`numerics.registration.register_kernel`, which first checks
    numerically that the kernel is positive semi-definite and derives it under a time
    budget; use this function directly only for a kernel you have checked.

    Raises
    ------
    TypeError
        If ``spec`` is not a :class:`KernelSpec`.
    DuplicateKernelError
        If the name is taken and ``replace`` is false.
    """
    if not isinstance(spec, KernelSpec):
        raise TypeError(f"expected a KernelSpec, got {type(spec).__name__} {spec!r}")
    if not replace and spec.name in REGISTRY:
        raise DuplicateKernelError(f"a kernel named {spec.name!r} is already registered "
                                   f"(pass replace=True to replace it)")
    REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove ``name`` from the registry (no error when it is not there)."""
    REGISTRY.pop(name, None)


#: names of the fully connected network kernels of any depth, resolved by :func:`get_spec`
#: without being registered: ``ntk_<act>`` / ``nngp_<act>`` (one hidden layer) and
#: ``ntk_<act>_d<L>`` / ``nngp_<act>_d<L>`` (``L`` hidden layers), default options
_NETWORK_NAME = re.compile(r"(ntk|nngp)_(relu|erf)(?:_d([2-9]|[1-9][0-9]+))?")


@cache
def network_spec(name: str) -> KernelSpec | None:
    """The network kernel called ``name`` (see :data:`_NETWORK_NAME`), built by
    :mod:`derivations.ntk_kernels` with its default options, or ``None`` when ``name`` is
    not such a name.  One object per name (cached), so derived quantities are shared."""
    match = _NETWORK_NAME.fullmatch(name)
    if match is None:
        return None
    kind, act, depth = match.group(1), match.group(2), int(match.group(3) or 1)
    if depth > _ntk.MAX_DEPTH:
        return None
    builder = _ntk.ntk_spec if kind == "ntk" else _ntk.nngp_spec
    return builder(act, depth)


def get_spec(name: str) -> KernelSpec:
    """The registered kernel ``name``; a network kernel of any depth by its name
    (``ntk_relu_d3``, ``nngp_erf_d2``, ...; :func:`network_spec`) also when it is not
    registered (registering it adds it to every check: ``register_kernel(get_spec(...))``)."""
    if not isinstance(name, str):
        raise TypeError(f"a kernel name must be a str, got {name!r}")
    try:
        return REGISTRY[name]
    except KeyError:
        spec = network_spec(name) if isinstance(name, str) else None
        if spec is not None:
            return spec
        raise UnknownKernelError(
            f"unknown kernel {name!r}; registered kernels: {sorted(REGISTRY)} (and network "
            f"kernels of any depth by name: ntk_<relu|erf>_d<L>, nngp_<relu|erf>_d<L>)"
        ) from None


def kernel_names(family: Family | None = None) -> list[str]:
    return [n for n, s in REGISTRY.items() if family is None or s.family == family]


def iter_specs() -> Iterator[KernelSpec]:
    return iter(list(REGISTRY.values()))


# ---------------------------------------------------------------------------
# Built-in kernels (one definition each)
# ---------------------------------------------------------------------------

ell = sp.Symbol("ell", positive=True)
alpha_rq = sp.Symbol("alpha", positive=True)
gamma = sp.Symbol("gamma", positive=True)
coef0 = sp.Symbol("c0", nonnegative=True)
degree = sp.Symbol("p", integer=True, positive=True)
beta = sp.Symbol("beta", nonnegative=True)

_ELL = Param(ell, 1.0, "length scale")


from derivations import ntk_kernels as _ntk  # noqa: E402  (needs KernelSpec, Param above)

_BUILTIN = [
    KernelSpec(
        "linear", "dot_product", u, (),
        title="Linear", notes="k = x.x'; KRR with it is ridge regression without intercept.",
    ),
    KernelSpec(
        "polynomial", "dot_product", (gamma * u + coef0) ** degree,
        (Param(gamma, 1.0, "scale"), Param(coef0, 1.0, "offset"), Param(degree, 2, "degree")),
        title="Polynomial",
    ),
    KernelSpec(
        "gaussian", "isotropic", sp.exp(-(r**2) / (2 * ell**2)), (_ELL,),
        title="Gaussian (RBF)", notes="Squared-exponential kernel, unit amplitude.",
    ),
    KernelSpec(
        "laplace", "isotropic", sp.exp(-r / ell), (_ELL,),
        title="Laplace (exponential)", notes="Matérn 1/2; not differentiable at x = x'.",
    ),
    KernelSpec(
        "matern32", "isotropic",
        (1 + sp.sqrt(3) * r / ell) * sp.exp(-sp.sqrt(3) * r / ell), (_ELL,),
        title="Matérn 3/2",
    ),
    KernelSpec(
        "matern52", "isotropic",
        (1 + sp.sqrt(5) * r / ell + 5 * r**2 / (3 * ell**2)) * sp.exp(-sp.sqrt(5) * r / ell),
        (_ELL,), title="Matérn 5/2",
    ),
    KernelSpec(
        "rational_quadratic", "isotropic",
        (1 + r**2 / (2 * alpha_rq * ell**2)) ** (-alpha_rq),
        (_ELL, Param(alpha_rq, 1.0, "shape")),
        title="Rational quadratic",
    ),
    # the one-hidden-layer ReLU NTK (arc-cosine form), built like the deeper ones:
    # Theta = (sqrt(a'b' - u'^2) + 2 (pi - theta) u') / (2 pi) with a' = a + beta^2, ...
    # (at the defaults sigma_w2 = 1, beta = 1 of derivations.ntk_kernels.network_params)
    replace(
        _ntk.ntk_spec("relu", 1),
        title="NTK, one hidden ReLU layer",
        notes="Infinite-width NTK of a one-hidden-layer ReLU network in NTK parametrisation "
        "with weight variance sigma_w2 (default 1) and bias std beta, both layers trained.",
    ),
    # fully connected NTKs and NNGP kernels built in derivations/ntk_kernels.py (issues 6,
    # 13): NTKs of depth 1 to 3 for both activations (the depth-1 ReLU NTK is ntk_relu
    # above), and the NNGP kernels of one hidden layer.  All have the parameters beta (bias
    # std) and sigma_w2 (weight variance), NTK parametrisation, no readout bias, no input
    # scaling; other variants: ntk_spec / nngp_spec options.  ReLU kernels declare the first
    # layer's singular set (ntk_kernels.relu_singular), so gradient_coefficients takes no
    # diagonal limit for them; erf kernels are smooth and their diagonal values come by
    # substitution.  Torch evaluates them by the stable recursion of numerics/ntk.py (the
    # spec's ``network``).
    # Depth 3 (ntk_relu_d3, ntk_erf_d3) is built and tested (values against 40/50-digit
    # references, the conventions table) and resolved by name (get_spec -> network_spec), but
    # not in the default registry that every claim check iterates: measured on 2 cores, the
    # two add 384 core-seconds (255 s wall with -n 2) to the test command, which would take
    # CI past its 20-minute target.  POISONCURV_KERNELS=numerics.deep_ntks adds them (and
    # runs every check for them).
    *(network_spec(n) for n in ("ntk_erf", "ntk_relu_d2", "ntk_erf_d2", "nngp_relu",
                                "nngp_erf")),
]

for _spec in _BUILTIN:
    # the built-ins are checked by the contract tests; no import-time PSD probe
    add_to_registry(_spec)

#: names of the kernels shipped with the suite (user kernels are registered after these)
BUILTIN_NAMES: tuple[str, ...] = tuple(s.name for s in _BUILTIN)
