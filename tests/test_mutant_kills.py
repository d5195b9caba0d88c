"""tests added to kill surviving mutants of the sampled mutation run; each names its
mutant"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp

from derivations.claims import Claim


# derivations.detectability_lag.x_never_detectable__mutmut_2 (threshold delta -> None)
def test_never_detectable_compares_the_spike_limit_with_delta():
    from derivations import detectability_lag as dl

    cond = dl.never_detectable()
    assert isinstance(cond, sp.Le)
    assert cond.lhs == dl.max_spike() and cond.rhs == dl.delta
    # a spike limit below the threshold: never detectable; above it: detectable
    R, K0, kz = sp.Symbol("R_k", positive=True), sp.Symbol("K_0", positive=True), dl.k_zeta
    at = {R: 1, K0: 1, kz: 2}  # spike limit R K0^2 / kz^2 = 1/4
    assert cond.subs({**at, dl.delta: sp.Rational(1, 2)}) == sp.true
    assert cond.subs({**at, dl.delta: sp.Rational(1, 8)}) == sp.false


# derivations.gradient_flow_contraction.x_stated_bound_numeric__mutmut_46 (message text)
def test_stated_bound_overflow_message():
    from derivations.gradient_flow_contraction import stated_bound_numeric

    with pytest.raises(ValueError, match=r"^the stated bound overflows float64 at these "
                                         r"inputs$"):
        stated_bound_numeric(1e300, 1.0, -1e3, 1e3)


# derivations.prediction_shift.x_block_elimination__mutmut_153 (key "poison_row" renamed)
def test_block_elimination_returns_the_poison_row_equation():
    from derivations.prediction_shift import beta, block_elimination

    d = block_elimination()
    assert set(d) == {"alpha_C", "clean_residual", "poison_row", "beta", "shift_raw", "shift"}
    eq = d["poison_row"]
    assert isinstance(eq, sp.Eq)
    # the returned beta solves the returned poison-row equation
    assert sp.simplify(eq.lhs.subs(beta, d["beta"]) - eq.rhs) == 0


# derivations.regularised_objective.x_objective_latex__mutmut_62 (1/2 -> 2/2 in E_B)
def test_dual_objective_has_the_half_quadratic_term():
    from derivations.regularised_objective import objective_latex

    tex = objective_latex()["dual_objective"]
    # E_B = 1/2 alpha^T (K + c I) alpha - y^T alpha + kappa/2 alpha^T G alpha
    assert r"\left(\frac{1}{2}\right) \alpha^{T} \left(c \mathbb{I} + K\right) \alpha" in tex


# numerics.benchmark.x__task_curve_point__mutmut_8 (kind == "fit" -> !=)
def test_task_curve_point_fit_and_hessian_kinds():
    from numerics.benchmark import _task_curve_point

    fit = _task_curve_point("fit", 16, 2, 2, 1)
    assert fit["first_call_included"] is True and len(fit["timing"]["times_s"]) == 1
    assert fit["gram_s"] is not None and fit["gram_s"] >= 0
    hess = _task_curve_point("hessian", 16, 2, 2, 1)
    assert hess["alpha"] == "seeded random (no fit)" and "gram_s" not in hess


# numerics.claim_report.x__decide__mutmut_20 (label upper-cased)
def test_refutation_without_counterexample_label():
    from numerics.claim_report import claim_verdict

    claim = Claim("C1", "scalar_gain", "t", "S", "s", requires=("corrected",))
    items = [
        {"test": "p.py::t_as_stated", "claims": [["C1", "as_stated", ""]], "status": "xfailed",
         "evidence": {"refutation": {"claim": "C1", "what": "stated value"}}, "reason": ""},
        {"test": "p.py::t_corrected", "claims": [["C1", "corrected", ""]], "status": "passed",
         "evidence": {}, "reason": ""},
    ]
    v = claim_verdict("C1", items, claim=claim)
    assert v.key == "incomplete"
    assert v.label == "incomplete (a refutation without a passing counterexample check)"


def _schema2_report(tmp_path: Path) -> Path:
    items = [{"test": "a::t1", "claims": [["C1", "numeric", ""]], "status": "passed",
              "duration_s": 2.0},
             {"test": "a::t2", "claims": [["C2", "numeric", ""]], "status": "passed",
              "duration_s": 6.0}]
    p = tmp_path / "r.json"
    p.write_text(json.dumps({"schema": 2, "run_id": "r", "generated_unix": 0.0,
                             "items": items}))
    return p


# numerics.claim_report.x_durations_table__mutmut_30 (total read from key None)
def test_durations_table_total_and_shares(tmp_path):
    from numerics.claim_report import durations_table, load_report

    info = load_report(_schema2_report(tmp_path), root=tmp_path, head=None, files=[])
    md = str(durations_table(info, book_dir=tmp_path))
    assert "**8.0 s** summed over 2 timed checks" in md  # 2.0 + 6.0
    assert "25.0 %" in md and "75.0 %" in md  # each claim's share of the 8 s


# numerics.claim_report.x_list_runs__mutmut_1 (directory from $CLAIMS_RUNS_DIR dropped)
def test_list_runs_default_directory(tmp_path, monkeypatch):
    from numerics.claim_report import list_runs

    for name in ("b.json", "a.json", "notes.txt"):
        (tmp_path / name).write_text("{}")
    monkeypatch.setenv("CLAIMS_RUNS_DIR", str(tmp_path))
    assert list_runs() == [tmp_path / "a.json", tmp_path / "b.json"]
    monkeypatch.setenv("CLAIMS_RUNS_DIR", str(tmp_path / "absent"))
    assert list_runs() == []


# numerics.claim_report.x_load_report__mutmut_215 (missing "workers" read as 1, not 0)
def test_report_without_workers_is_one_process(tmp_path):
    from numerics.claim_report import durations_table, load_report

    p = _schema2_report(tmp_path)
    payload = json.loads(p.read_text())
    p.write_text(json.dumps({**payload, "started_unix": 0.0, "generated_unix": 12.5}))
    info = load_report(p, root=tmp_path, head=None, files=[])
    assert info.workers == 0
    md = str(durations_table(info, book_dir=tmp_path))
    assert "wall time of the run 12.5 s in one process" in md and "xdist" not in md
    p.write_text(json.dumps({**payload, "started_unix": 0.0, "generated_unix": 12.5,
                             "workers": 3}))
    info = load_report(p, root=tmp_path, head=None, files=[])
    assert info.workers == 3
    assert "12.5 s with 3 xdist workers" in str(durations_table(info, book_dir=tmp_path))


# numerics.claim_report.x_verdict_rules__mutmut_2 (docstring dropped: `__doc__ and ""`)
# numerics.claim_report.x_verdict_rules__mutmut_35 ("*scope*" upper-cased)
def test_verdict_rules_render_the_module_docstring_rules():
    import re

    import numerics.claim_report as cr

    text = str(cr.verdict_rules())
    assert text.startswith("A claim's verdict") and "Skipped checks decide nothing" in text
    # Sphinx roles and double backticks become Markdown code; the <scope> placeholder is
    # shown as an emphasised word
    assert "``" not in text and "<scope>" not in text and not re.search(r":\w+:`", text)
    assert "**proved for *scope*** (theorems only)" in text
    # every rule of the docstring is shown, in order
    doc = cr.__doc__ or ""
    rules = re.findall(r"^\d+\. \*\*([^*]+)\*\*", doc, re.M)
    assert len(rules) == 7
    shown = re.findall(r"^\d+\. \*\*([^*]+)", text, re.M)
    assert [r.replace("<scope>", "") for r in rules] == shown


def _quadratic(eigs, seed: int = 1):
    """``fn(x) = x^T A x / 2`` with a random orthogonal basis: its Hessian ``A`` has
    exactly the eigenvalues ``eigs`` (an independent reference for top_eigenpairs)."""
    import numpy as np
    import torch

    d = len(eigs)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    A = torch.as_tensor(Q @ np.diag(eigs) @ Q.T)
    return (lambda x: 0.5 * x @ A @ x), d


# numerics.hessian_eig.x_top_eigenpairs__mutmut_4 (default tol 1e-12 -> 1.000000000001)
def test_top_eigenpairs_default_tolerance_is_tight():
    import numpy as np
    import torch

    from numerics.hessian_eig import top_eigenpairs
    from numerics.tolerances import assert_close

    eigs = np.linspace(0.0, 1.0, 40) ** 0.5  # a dense top of the spectrum: Lanczos needs
    fn, d = _quadratic(eigs)                # many steps to reach the default tolerance
    vals, _ = top_eigenpairs(fn, torch.zeros(1, d, dtype=torch.float64), k=3)
    assert_close(vals[0], torch.as_tensor(np.sort(eigs)[::-1][:3].copy()), "iterative_eig",
                 "top eigenvalues at the default tolerance")


# numerics.hessian_eig.x_top_eigenpairs__mutmut_97 (Lanczos branch always sorted by |w|)
def test_top_eigenpairs_la_sorted_algebraically():
    import torch

    from numerics.hessian_eig import top_eigenpairs

    fn, d = _quadratic([1.0, -3.0, -5.0, -7.0, -9.0, -11.0])
    X = torch.zeros(1, d, dtype=torch.float64)
    la, _ = top_eigenpairs(fn, X, k=2)  # k < d - 1: the Lanczos branch
    assert la[0].tolist() == pytest.approx([1.0, -3.0], abs=1e-9)
    lm, _ = top_eigenpairs(fn, X, k=2, which="LM")
    assert lm[0].tolist() == pytest.approx([-11.0, -9.0], abs=1e-9)


# numerics.hessian_eig.x_top_eigenpairs__mutmut_11 (argument named "points x" in errors)
def test_top_eigenpairs_bad_points_message_names_X():
    import torch

    from numerics.hessian_eig import top_eigenpairs

    with pytest.raises(ValueError, match=r"^points X must be a 2-D array"):
        top_eigenpairs(lambda x: (x**2).sum(), torch.zeros(2, 3, 4, dtype=torch.float64))


# numerics.digits_spike.x_digits_spike_track__mutmut_145 (m = 0 row: cos2_gn NaN -> None)
def test_digits_spike_track_clean_row_is_numeric():
    import math

    from numerics.digits_spike import digits_spike_track

    (row,) = digits_spike_track(ms=(0,), n_clean=30)["rows"]
    assert row["m"] == 0 and row["gn_poison"] == 0.0
    # no poison GN term at m = 0: its overlap is undefined (NaN), but still a number, so that
    # the column stays numeric for tables and plots
    assert all(isinstance(v, (int, float)) for v in row.values()), row
    assert math.isnan(row["cos2_gn"]) and 0.0 <= row["cos2_total"] <= 1.0


# numerics.e2.x_plot_spike__mutmut_134 (alignment panel title upper-cased: broken mathtext)
def test_plot_spike_alignment_panel_renders():
    import matplotlib.pyplot as plt

    from numerics.e2 import plot_spike

    def stat(v: float) -> dict:
        return {"mean": v, "min": 0.9 * v, "max": 1.1 * v}

    fractions = [0.0, 0.01, 0.1]
    summary = {
        "settings": {"datasets": ["digits"], "models": ["krr"], "triggers": ["patch"],
                     "fractions": fractions},
        "aggregates": [{"dataset": "digits", "model": "krr", "trigger": "patch",
                        "fraction": f, "lam_top_triggered": stat(1.0 + 10 * f),
                        "lam_top_clean": stat(1.0), "alignment_triggered": stat(0.2 + 5 * f)}
                       for f in fractions],
        "random_alignment": 0.1,
    }
    fig = plot_spike(summary)
    try:
        fig.canvas.draw()  # the titles' mathtext must parse
        assert fig.axes[1].get_title() == r"$|\langle v_1, u\rangle|$ (mean over inputs)"
    finally:
        plt.close(fig)


# numerics.networks.xǁFCNetǁempirical_ntk__mutmut_32 (range(None, ...) for the X2 chunks)
def test_empirical_ntk_cross_matches_gram_block():
    import torch

    from numerics.networks import FCNet
    from numerics.tolerances import assert_close

    net = FCNet(3, 16, 2, "erf", seed=0, centred=False)
    X = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    full = net.empirical_ntk(X)  # the X2-is-X1 path
    cross = net.empirical_ntk(X[:2], X[2:], chunk=2)  # X2 given, several chunks
    assert cross.shape == (2, 3)
    assert_close(cross, full[:2, 2:], "autograd", "cross NTK vs block of the Gram NTK")


# numerics.network_experiments.x_feature_near_clone_real__mutmut_101 (feat not forwarded)
def test_feature_near_clone_real_forwards_feat(monkeypatch):
    from types import SimpleNamespace

    import torch

    import numerics.network_experiments as ne

    fake = SimpleNamespace(X=torch.zeros(10, 784, dtype=torch.float64),
                           y=torch.zeros(10, dtype=torch.long))
    monkeypatch.setattr(ne, "load_real", lambda name, **kw: fake)
    seen: dict = {}

    def train(*args, **kwargs):
        seen.update(kwargs)
        return {}

    monkeypatch.setattr(ne, "feature_near_clone_train", train)
    ne.feature_near_clone_real("mnist", n_train=6, n_test=4, feat=7, hidden=5, device="cpu")
    assert seen["feat"] == 7 and seen["hidden"] == 5
