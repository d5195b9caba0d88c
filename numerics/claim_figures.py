"""The two pictures of the claims page, drawn from a run report (matplotlib).

* :func:`kernel_matrix_figure` -- one cell per claim and kernel, coloured by what ran for
  that kernel (:func:`numerics.claim_report.kernel_cells`);
* :func:`dependency_figure` -- the claims as a graph (an arrow from each claim to the claims
  whose derivations use it, ``Claim.depends_on``), each node coloured by its verdict, so a
  reader sees which verdicts a refutation upstream conditions.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Patch

from derivations.claims import CLAIMS
from numerics.claim_report import (
    CELL_STATES,
    VERDICTS,
    ReportInfo,
    all_verdicts,
    kernel_cells,
    load_report,
)

__all__ = ["CELL_COLOURS", "VERDICT_COLOURS", "kernel_matrix_figure", "dependency_figure",
           "claim_levels"]

CELL_COLOURS = {
    "holds": "#4caf50",
    "conditional": "#ffb74d",
    "refuted": "#9c27b0",
    "failing": "#e53935",
    "not_applicable": "#cfd8dc",
    "not_run": "#ffffff",
}
CELL_LABELS = {"holds": "holds", "conditional": "holds under condition (refuted as stated)",
               "refuted": "refuted", "failing": "failing", "not_applicable": "not applicable",
               "not_run": "not run"}
VERDICT_COLOURS = {
    "proved": "#2e7d32",
    "proved_scoped": "#66bb6a",
    "verified": "#a5d6a7",
    "measured": "#90caf9",
    "conditional": "#ffb74d",
    "refuted": "#9c27b0",
    "failing": "#e53935",
    "incomplete": "#eeeeee",
}


def kernel_matrix_figure(report: ReportInfo | None = None,
                         kernels: list[str] | None = None) -> Figure:
    """Claims (rows) x kernels (columns), one colour per :data:`CELL_STATES` entry."""
    report = load_report() if report is None else report
    cells = kernel_cells(report, kernels)
    kernels = list(next(iter(cells.values())).keys()) if cells else []
    ids = [cl.id for cl in CLAIMS]
    fig, ax = plt.subplots(figsize=(max(6.0, 3.5 + 0.62 * len(kernels)), 1.2 + 0.36 * len(ids)))
    for i, cid in enumerate(ids):
        for j, k in enumerate(kernels):
            state = cells[cid][k]
            ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor=CELL_COLOURS[state],
                                       edgecolor="#607d8b", linewidth=0.5,
                                       hatch="//" if state == "not_run" else None))
    ax.set_xlim(0, len(kernels))
    ax.set_ylim(len(ids), 0)
    ax.set_xticks([j + 0.5 for j in range(len(kernels))], kernels, rotation=55, ha="right",
                  fontsize=8)
    ax.set_yticks([i + 0.5 for i in range(len(ids))], ids, fontsize=8)
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_title("What ran for each claim and kernel", fontsize=10)
    handles = [Patch(facecolor=CELL_COLOURS[s], edgecolor="#607d8b",
                     hatch="//" if s == "not_run" else None, label=CELL_LABELS[s])
               for s in CELL_STATES]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False)
    fig.tight_layout()
    return fig


def claim_levels() -> dict[str, int]:
    """Depth of each claim in the dependency graph (0: uses no other claim)."""
    deps = {cl.id: cl.depends_on for cl in CLAIMS}
    level: dict[str, int] = {}

    def depth(cid: str, seen: tuple[str, ...] = ()) -> int:
        if cid in seen:
            raise ValueError(f"dependency cycle through {cid}: {' -> '.join(seen + (cid,))}")
        if cid not in level:
            level[cid] = 1 + max((depth(d, seen + (cid,)) for d in deps[cid]), default=-1)
        return level[cid]

    for cid in deps:
        depth(cid)
    return level


def dependency_figure(report: ReportInfo | None = None,
                      verdicts: Mapping[str, object] | None = None) -> Figure:
    """The claims' dependency graph, nodes coloured by verdict (arrows: used by)."""
    report = load_report() if report is None else report
    verdicts = all_verdicts(report) if verdicts is None else verdicts
    level = claim_levels()
    by_level: dict[int, list[str]] = {}
    for cl in CLAIMS:
        by_level.setdefault(level[cl.id], []).append(cl.id)
    pos = {}
    height = max(len(v) for v in by_level.values())
    for lv, ids in by_level.items():
        for i, cid in enumerate(ids):
            pos[cid] = (lv * 2.4, (len(ids) - 1) / 2 - i)
    fig, ax = plt.subplots(figsize=(2.2 + 2.3 * len(by_level), 1.0 + 0.75 * height))
    w, h = 1.5, 0.5
    for cl in CLAIMS:
        for d in cl.depends_on:
            (x0, y0), (x1, y1) = pos[d], pos[cl.id]
            ax.annotate("", xy=(x1 - w / 2, y1), xytext=(x0 + w / 2, y0),
                        arrowprops=dict(arrowstyle="-|>", color="#78909c", lw=0.9,
                                        shrinkA=0, shrinkB=0,
                                        connectionstyle="arc3,rad=0.08"))
    for cl in CLAIMS:
        x, y = pos[cl.id]
        key = getattr(verdicts[cl.id], "key", "incomplete")
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                    boxstyle="round,pad=0.02,rounding_size=0.08",
                                    facecolor=VERDICT_COLOURS[key], edgecolor="#37474f",
                                    linewidth=0.8))
        colour = "white" if key in ("proved", "refuted", "failing") else "black"
        ax.text(x, y + 0.07, cl.id, ha="center", va="center", fontsize=9, weight="bold",
                color=colour)
        ax.text(x, y - 0.13, cl.kind, ha="center", va="center", fontsize=6.5, color=colour)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 1.0, max(xs) + 1.0)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.set_aspect("equal")
    ax.axis("off")
    used = [k for k in VERDICTS if any(getattr(v, "key", "") == k for v in verdicts.values())]
    ax.legend(handles=[Patch(facecolor=VERDICT_COLOURS[k], edgecolor="#37474f",
                             label=VERDICTS[k]) for k in used],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title("Claims and the claims their derivations use (arrow: used by)", fontsize=10)
    fig.tight_layout()
    return fig
