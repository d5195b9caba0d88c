"""numerics.benchmark: the peers compute the same thing (tiny sizes), cost models, the
log-log exponent fit, input validation, and the schema of the committed results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from numerics import benchmark as B
from numerics.kernels import get_kernel
from numerics.krr import KRR

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results" / "benchmark"


@pytest.fixture(scope="module")
def tiny():
    X, y, Xq, ell, ridge = B.krr_problem(30, 4, 5, seed=1)
    model = KRR("gaussian", ridge, ell=ell).fit(X, y)
    return X, y, Xq, ell, ridge, model


def _rel(a, b) -> float:
    return float((a - b).abs().max() / b.abs().max())


def test_hessian_peers_agree(tiny) -> None:
    X, _, Xq, ell, _, model = tiny
    ours = model.input_hessian(Xq)
    f = B.gaussian_predictor(X, model.alpha, ell)
    for other in (B.plain_closed_form(Xq, X, model.alpha, ell, chunk=2),
                  B.vmap_hessian(f, Xq, chunk=2), B.vmap_jacfwd_jacrev(f, Xq, chunk=3)):
        assert _rel(other, ours) < 1e-12


def test_gradient_peers_agree(tiny) -> None:
    X, _, Xq, ell, _, model = tiny
    ours = model.input_gradient(Xq)
    f = B.gaussian_predictor(X, model.alpha, ell)
    assert _rel(B.plain_closed_form(Xq, X, model.alpha, ell, order=1), ours) < 1e-12
    assert _rel(B.vmap_grad(f, Xq, chunk=2), ours) < 1e-12
    assert _rel(torch.stack([f(x) for x in Xq]), model.predict(Xq)) < 1e-12


def test_fit_peers_agree(tiny) -> None:
    X, y, Xq, ell, ridge, model = tiny
    K = get_kernel("gaussian", ell=ell).gram(X)
    alpha = B.bare_cholesky_fit(K.clone(), y, ridge)
    assert _rel(alpha, model.alpha) < 1e-10
    from sklearn.kernel_ridge import KernelRidge

    sk = KernelRidge(kernel="rbf", gamma=1 / (2 * ell * ell), alpha=ridge).fit(X.numpy(), y.numpy())
    assert _rel(torch.as_tensor(sk.predict(Xq.numpy())), model.predict(Xq)) < 1e-10


def test_flop_and_byte_models() -> None:
    n, d, q = 100, 8, 3
    assert B.hessian_flops(n, d, q) == 2 * q * n * (d * d + 3 * d + 6)
    assert B.gradient_flops(n, d, q) == 2 * q * n * (2 * d + 4)
    assert B.fit_flops(n, d) == n**3 // 3 + 3 * n * n * d + 2 * n * n
    assert B.fit_bytes(n, d) == 8 * (4 * n * n + n * d)
    assert B.hessian_bytes(n, d, q) == 8 * (n * d * d + 6 * q * n + q * d * d + (n + q) * d)
    # the leading term: doubling n doubles the Hessian flops, d -> 2d about quadruples them
    assert B.hessian_flops(2 * n, d, q) == 2 * B.hessian_flops(n, d, q)
    assert 3.5 < B.hessian_flops(n, 64, q) / B.hessian_flops(n, 32, q) < 4


def test_loglog_fit_recovers_exponents() -> None:
    xs = [1e3, 2e3, 5e3, 1e4, 2e4]
    for p in (1.0, 2.0, 3.0, 0.5):
        out = B.fit_loglog(xs, [7.0 * x**p for x in xs])
        assert out["exponent"] == pytest.approx(p, abs=1e-12)
        assert out["log_const"] == pytest.approx(math.log(7.0), abs=1e-9)
        assert out["r2"] == pytest.approx(1.0)
    noisy = B.fit_loglog(xs, [x**2 * (1.1 if i % 2 else 0.9) for i, x in enumerate(xs)])
    assert 1.9 < noisy["exponent"] < 2.1 and noisy["r2"] < 1


def test_timing_and_memory_helpers() -> None:
    calls = []
    t = B.time_call(lambda: calls.append(1), warmup=2, repeats=3)
    assert len(calls) == 5 and len(t.times) == 3 and t.median == sorted(t.times)[1]
    with B.MemoryWindow() as mw:
        x = torch.ones(2**21, dtype=torch.float64)  # 16 MiB
        x += 1
    assert mw.extra_mib >= 0 and mw.peak_mib > 0
    env = B.environment(shared=True, threads=1)
    for key in ("cores", "torch_threads", "torch", "date_utc", "git_commit", "shared_machine"):
        assert key in env


@pytest.mark.parametrize(
    "call, match",
    [(lambda: B.time_call(1), "callable"),
     (lambda: B.time_call(lambda: 0, repeats=0), "repeats"),
     (lambda: B.hessian_flops(0, 2, 2), "n must"),
     (lambda: B.fit_flops(10, True), "d must"),
     (lambda: B.fit_loglog([1], [1]), "length"),
     (lambda: B.fit_loglog([1, 2], [1, -1]), "positive"),
     (lambda: B.fit_loglog([2, 2], [1, 3]), "distinct"),
     (lambda: B.krr_problem(5, 0, 1), "d must"),
     (lambda: B.plain_closed_form(torch.ones(1, 2), torch.ones(3, 2), torch.ones(3), 1.0,
                                  order=3), "order"),
     (lambda: B.vmap_hessian(lambda x: x.sum(), torch.ones(2, 2), chunk=0), "chunk"),
     (lambda: B.bare_cholesky_fit(torch.ones(2, 3), torch.ones(2), 1.0), "square"),
     (lambda: B.run_isolated("nope"), "unknown task"),
     (lambda: B.matmul_rate(0), "size")],
)
def test_bad_input(call, match) -> None:
    with pytest.raises(B.BenchmarkInputError, match=match):
        call()


def test_committed_peer_results_schema() -> None:
    res = json.loads((RESULTS / "benchmark.json").read_text())
    env = res["environment"]
    for key in ("cores", "torch_threads", "torch", "date_utc", "git_commit", "shared_machine"):
        assert key in env
    assert env["shared_machine"] is True
    assert res["machine"]["matmul"]["gflops_best"] > 0
    dv = res["derivatives"]
    assert set(dv["hessian"]) == {"ours", "plain", "vmap_hessian", "vmap_jacfwd_jacrev"}
    assert set(dv["hessian_max_rel_diff"]) == {"plain", "vmap_hessian", "vmap_jacfwd_jacrev"}
    assert set(res["fit"]["peers"]) == {"ours", "bare", "sklearn"}
    assert res["eigen"]["k"] == 5 and res["eigen"]["points"]
    names = [t["name"] for t in res["targets"]]
    assert len(names) == len(set(names)) >= 7
    for t in res["targets"]:
        assert t["op"] in (">=", "<=") and isinstance(t["met"], bool)
        assert t["met"] == (t["measured"] >= t["goal"] if t["op"] == ">="
                            else t["measured"] <= t["goal"])
    for fig in res["figures"]:
        assert (RESULTS / fig).is_file()


def test_committed_curves_schema() -> None:
    res = json.loads((RESULTS / "curves.json").read_text())
    assert res["environment"]["shared_machine"] is True
    assert {"fit_vs_n", "hessian_vs_n", "hessian_vs_q", "fit_vs_d", "hessian_vs_d"} <= set(
        res["curves"])
    for c in res["curves"].values():
        assert c["axis"] in ("n", "q", "d")
        done = [p for p in c["points"] if "time_s" in p]
        assert len(done) >= 2 and c["fit"] is not None
        for p in done:
            assert p["time_s"] > 0 and p["flops_model"] > 0 and p["bytes_model"] > 0
        for p in c["points"]:
            assert "time_s" in p or "error" in p or "skipped" in p
    for fig in res["figures"]:
        assert (RESULTS / fig).is_file()
