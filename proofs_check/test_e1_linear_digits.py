"""E1 -- digits backdoor vs linear / Gaussian KRR: the slug's closed-form predictions,
a fast smoke run of the pipeline, and (slow) the full sweep against the cached results.

E1 is empirical: it is never "proved".  The SymPy identities behind its predictions are
small-instance algebra and lemmas, not the claim (``sanity``); so are the smoke run of the
pipeline and the input validation of the cache guard.  The predictions measured on a
poisoned digits fit are an independent numerical check (``numeric``); the full sweep is the
measurement (``experiment``, slow).  On the real 28x28 MNIST digits
(:mod:`numerics.real_data_claims`) a small ``check`` grid (cached under ``results/cache``) and
the committed reduced run (``results/e1_mnist/summary.json``, refused when made with other
settings or code) are measurements too (``experiment``).
"""

from __future__ import annotations

import json

import pytest
import sympy as sp
import torch

from derivations.e1_linear_digits import linear_loss_hessian, margin_bound, overlap_bound
from numerics.data import one_hot
from numerics.e1 import (
    QUICK,
    RESULTS_DIR,
    E1Settings,
    input_hessians,
    load_cached,
    load_data,
    poison_training_set,
    run_e1,
    settings_hash,
)
from numerics.krr import KRR
from numerics.tolerances import assert_close
from proofs_check.evidence import asserted_for, record_measured

TINY = E1Settings(thetas=(0.0, 0.3), models=(("linear", {}, (1.0,)),
                                             ("gaussian", {"ell": 3.0}, (0.1,))),
                  max_hessian_points=4)


@pytest.mark.claim("E1", "sanity")
def test_linear_loss_hessian_is_WWT():
    """The identities behind the predictions (d = 3, o = 2 weights; the two lemmas)."""
    assert linear_loss_hessian(3, 2)["difference"] == sp.zeros(3, 3)
    mb = margin_bound()
    assert sp.expand(mb["gap"] - mb["square"]) == 0
    ob = overlap_bound()
    assert sp.simplify(ob["solved"] - ob["bound"]) == 0


@pytest.fixture(scope="module")
def digits():
    return load_data(TINY)


@pytest.mark.claim("E1", "numeric")
def test_linear_predictions_on_digits(digits):
    """On a poisoned digits fit: the measured input Hessian of the loss equals W W^T at every
    triggered point; the margin bound and the overlap bound hold pointwise."""
    s = TINY
    pz = poison_training_set(digits["Xtr"], digits["ytr"], 0.3, s, digits["pattern"])
    krr = KRR("linear", 1.0).fit(pz.X, one_hot(pz.y, 10))
    src = digits["Xte"][digits["yte"] == s.source][:12]
    trig = src + digits["pattern"]
    _, H = input_hessians(krr, trig, one_hot(torch.full((12,), s.source), 10))
    W = pz.X.T @ krr.alpha
    for h in H:
        assert_close(h, W @ W.T, "exact", "linear-model loss Hessian vs W W^T")
    p = digits["pattern"]
    p_hat = p / torch.linalg.vector_norm(p)
    f_clean = krr.predict(src)
    mu = f_clean[:, s.source] - f_clean[:, s.target]
    success = krr.predict(trig).argmax(1) == s.target
    q = float(p_hat @ (W @ W.T) @ p_hat)
    sel = success & (mu > 0)
    assert int(sel.sum()) > 0
    assert torch.all(q >= mu[sel] ** 2 / (2 * float(p @ p)) - 1e-12)
    vals, vecs = torch.linalg.eigh(W @ W.T)
    overlap = float((vecs[:, -1] @ p_hat) ** 2)
    assert overlap >= float((q - vals[-2]) / (vals[-1] - vals[-2])) - 1e-12
    asserted_for("linear")


@pytest.mark.claim("E1", "sanity")
def test_e1_pipeline_smoke():
    """Tiny sweep: structure, ranges, the settings hash, and the clean baseline (no
    poisons: no Spectral Signatures result, low attack success) -- a check of the pipeline,
    not the measurement."""
    res = run_e1(TINY, progress=False)
    assert res["settings_hash"] == settings_hash(TINY)
    assert len(res["cells"]) == 4
    json.dumps(res)  # JSON-ready
    for cell in res["cells"]:
        assert 0 <= cell["asr"] <= 1 and 0.8 <= cell["clean_acc"] <= 1
        for part in ("gn", "total"):
            assert 0 <= cell[part]["overlap"] <= 1
            assert cell[part]["lam_top"] >= cell[part]["lam_second"]
        if cell["theta"] == 0:
            assert cell["spectral_signatures"] is None and cell["asr"] < 0.5
        else:
            for variant in ("centred", "uncentred"):
                met = cell["spectral_signatures"][variant]["target_class"]
                assert 0 <= met["recall"] <= 1 and met["poisons"] == cell["n_poison"]
        if cell["model"] == "linear" and cell["margin_bound_check"]["n_checked"]:
            assert cell["margin_bound_check"]["min_slack"] >= -1e-12


@pytest.mark.claim("E1", "sanity")
def test_cache_guard_refuses_other_settings(tmp_path):
    """Input validation of the cache guard and of the poisoning (not evidence for E1)."""
    from numerics.e1 import CacheMismatch

    with pytest.raises(CacheMismatch, match="no cached"):
        load_cached(E1Settings(), tmp_path / "missing.json")
    bad = tmp_path / "e1.json"
    bad.write_text(json.dumps({"settings": QUICK.to_json(), "settings_hash": settings_hash(QUICK)}))
    with pytest.raises(CacheMismatch, match="different settings"):
        load_cached(E1Settings(), bad)
    with pytest.raises(ValueError, match="theta"):
        poison_training_set(torch.zeros(2, 64), torch.zeros(2, dtype=torch.long), 1.5,
                            TINY, torch.zeros(64))


@pytest.mark.slow
@pytest.mark.claim("E1", "experiment")
def test_e1_full_sweep_reproduces_cache_and_shows_the_lag():
    """The default sweep reproduces the committed cache, and for every model and ridge
    the attack succeeds no later (in theta) than the trigger becomes the top Hessian
    direction (the lag; 'never visible' counts as later)."""
    res = run_e1(E1Settings(), progress=False)
    cached = load_cached(E1Settings(), RESULTS_DIR / "e1_results.json")
    for a, b in zip(res["cells"], cached["cells"], strict=True):
        assert a["asr"] == b["asr"] and a["n_poison"] == b["n_poison"]
        assert a["gn"]["overlap"] == pytest.approx(b["gn"]["overlap"], rel=1e-6, abs=1e-9)
    for row in res["lag"]:
        assert row["theta_success"] is not None, row
        vis = row["theta_visible_gn"]
        assert vis is None or vis >= row["theta_success"], row
    asserted_for(*dict.fromkeys(model for model, _, _ in E1Settings().models))


# ---------------------------------------------------------------------------
# E1 on the real 28x28 MNIST digits (numerics.real_data_claims, issue 12)
# ---------------------------------------------------------------------------


def _mnist_facts(summary: dict) -> None:
    """Measurable facts of an E1 run on MNIST: clean accuracy well above chance (0.1) in
    every cell; attack success at theta = 0 near the natural rate (< 0.1) and at the largest
    theta high (>= 0.9) for every model and ridge; overlaps in [0, 1], ordered finite
    eigenvalues; Spectral Signatures recall and precision in [0, 1] with the right poison
    count; the margin bound (a lemma) holds at every checked linear-model point."""
    import math

    st = summary["settings"]
    cells = summary["cells"]
    assert len(cells) == sum(len(r) for _, _, r in st["models"]) * len(st["thetas"])
    top = max(st["thetas"])
    for cell in cells:
        assert cell["clean_acc"] > 0.5, cell
        if cell["theta"] == 0:
            assert cell["asr"] < 0.1 and cell["n_poison"] == 0, cell
        if cell["theta"] == top:
            assert cell["asr"] >= 0.9, cell
        for part in ("gn", "total"):
            h = cell[part]
            assert 0 <= h["overlap"] <= 1
            assert math.isfinite(h["lam_top"]) and math.isfinite(h["lam_second"])
            assert h["lam_top"] >= h["lam_second"]
        ss = cell["spectral_signatures"]
        if ss:
            for variant in ("centred", "uncentred"):
                met = ss[variant]["target_class"]
                assert 0 <= met["recall"] <= 1 and 0 <= met["precision"] <= 1
                assert met["poisons"] == cell["n_poison"]
        mb = cell["margin_bound_check"]
        if mb and mb["n_checked"]:
            assert mb["min_slack"] >= -1e-9, mb
    for row in summary["lag"]:
        assert row["theta_success"] is not None, row


def _mnist_record(summary: dict) -> None:
    record_measured(grid=summary["grid"], settings_hash=summary["settings_hash"],
                    lag=summary["lag"],
                    cells=[{k: c[k] for k in ("model", "ridge", "theta", "clean_acc", "asr")}
                           | {"overlap_gn": c["gn"]["overlap"]} for c in summary["cells"]])


@pytest.mark.claim("E1", "experiment")
def test_e1_mnist_check_grid():
    """The pipeline on real MNIST digits (28x28, 3x3 trigger), the small ``check`` grid of
    :mod:`numerics.real_data_claims` (cached under results/cache): the facts of
    :func:`_mnist_facts`."""
    from numerics.data import real_data_available
    from numerics.real_data_claims import run_grid

    ok, why = real_data_available("mnist")
    if not ok:
        pytest.skip(why)
    summary = run_grid("e1", "check", n_workers=0, progress=False, write=False)
    _mnist_facts(summary)
    _mnist_record(summary)
    asserted_for(*dict.fromkeys(m for m, _, _ in summary["settings"]["models"]))


@pytest.mark.claim("E1", "experiment")
def test_e1_mnist_reduced_summary():
    """The committed reduced MNIST run (``results/e1_mnist/summary.json``; refused when made
    with other settings or code): the facts of :func:`_mnist_facts` over its whole grid."""
    from numerics.real_data_claims import load_real_summary

    summary = load_real_summary("e1")
    _mnist_facts(summary)
    _mnist_record(summary)
    asserted_for(*dict.fromkeys(m for m, _, _ in summary["settings"]["models"]))
