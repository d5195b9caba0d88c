"""Run experiment E1 (digits backdoor vs linear / Gaussian KRR, spectral visibility,
Spectral Signatures) and cache the results and plots under results/e1/.

    .venv/bin/python scripts/run_e1.py           # the default sweep (what the book loads)
    .venv/bin/python scripts/run_e1.py --quick   # a small sweep, written to results/e1/quick/
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from numerics.e1 import QUICK, RESULTS_DIR, E1Settings, run_e1, save_plots  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sweep (smoke run)")
    ap.add_argument("--out", type=Path, default=None, help="output folder")
    args = ap.parse_args(argv)
    settings = QUICK if args.quick else E1Settings()
    out = args.out or (RESULTS_DIR / "quick" if args.quick else RESULTS_DIR)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    res = run_e1(settings)
    (out / "e1_results.json").write_text(json.dumps(res, indent=1))
    figs = save_plots(res, out)
    print(f"E1 done in {time.time() - t0:.1f} s; results: {out / 'e1_results.json'}; "
          f"plots: {', '.join(str(f) for f in figs)}")
    for row in res["lag"]:
        print(f"  {row['model']:9s} c={row['ridge']:<6g} theta_success={row['theta_success']} "
              f"theta_visible(GN)={row['theta_visible_gn']} "
              f"theta_visible(total)={row['theta_visible_total']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
