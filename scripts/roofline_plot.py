#!/usr/bin/env python3
"""Roofline plot of a `quench profile --json` report.

    scripts/roofline_plot.py REPORT.json OUT.png

One point per layer at (arithmetic intensity = FLOPs / minimum bytes, achieved GFLOP/s), its
area proportional to the layer's share of the time and its colour the bound quench decided;
the roof is min(compute ceiling, bandwidth ceiling x intensity). Layers without FLOPs (pure
data movement) have no place on a log axis of intensity: they are counted in the caption.
`quench profile --plot OUT.png` runs this script.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"memory": "tab:blue", "compute": "tab:red", "overhead": "tab:gray"}
LABELLED = 6  # the slowest layers get their names on the plot


def short(name, width=28):
    return name if len(name) <= width else "..." + name[-(width - 3):]


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1]) as f:
        report = json.load(f)
    ceilings = report["ceilings"]
    peak = ceilings["flop_per_s"] / 1e9  # GFLOP/s
    bandwidth = ceilings["bytes_per_s"] / 1e9  # GB/s
    layers = report["layers"]
    drawn = [l for l in layers if l["flops"] > 0 and l["bytes"] > 0 and l["ms"] > 0]
    skipped = [l for l in layers if l not in drawn]
    if peak <= 0 or bandwidth <= 0:
        sys.stderr.write("the report has no measured ceilings\n")
        return 1

    fig, ax = plt.subplots(figsize=(10, 6.5), dpi=120)
    ridge = peak / bandwidth
    lo = min([l["intensity"] for l in drawn] + [ridge]) / 4
    hi = max([l["intensity"] for l in drawn] + [ridge]) * 4
    ax.plot([lo, ridge, hi], [bandwidth * lo, peak, peak], color="black", linewidth=1.5, zorder=1)
    ax.annotate(f"compute ceiling {peak:.3g} GFLOP/s", (hi, peak), xytext=(-4, 4), textcoords="offset points",
                ha="right", va="bottom", fontsize=8)
    ax.annotate(f"bandwidth ceiling {bandwidth:.3g} GB/s", (lo, bandwidth * lo), xytext=(4, 6),
                textcoords="offset points", ha="left", va="bottom", fontsize=8, rotation=0)

    for bound, colour in COLOURS.items():
        pts = [l for l in drawn if l["bound"] == bound]
        if not pts:
            continue
        ax.scatter([l["intensity"] for l in pts], [l["gflop_per_s"] for l in pts],
                   s=[20 + 2000 * l["share"] for l in pts], c=colour, alpha=0.6, edgecolors="black",
                   linewidths=0.4, label=f"{bound}-bound ({len(pts)})", zorder=2)
    # The slowest layers are numbered on the plot and named in a box, where labels cannot collide.
    slowest = sorted(drawn, key=lambda l: -l["ms"])[:LABELLED]
    for rank, l in enumerate(slowest, 1):
        ax.annotate(str(rank), (l["intensity"], l["gflop_per_s"]), xytext=(5, 3), textcoords="offset points",
                    fontsize=8, fontweight="bold")
    if slowest:
        names = "\n".join(f"{rank}  {short(l['name'], 40)}  {l['op_type']}  {100 * l['share']:.1f}%  "
                          f"{l['bound']} {100 * l['ceiling_fraction']:.0f}%" for rank, l in enumerate(slowest, 1))
        ax.text(0.01, 0.99, "slowest layers (share of time, bound, % of ceiling)\n" + names, transform=ax.transAxes,
                va="top", ha="left", fontsize=7, family="monospace",
                bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"})

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(top=peak * 4)  # room above the roof for the box of names
    ax.set_xlabel("arithmetic intensity (FLOPs per byte moved at least)")
    ax.set_ylabel("achieved GFLOP/s (in a typical run)")
    model = os.path.basename(report.get("model", "?"))
    ax.set_title(f"{model}: {report.get('backend', '?')} {report.get('precision', '?')}, batch {report.get('batch', '?')}"
                 f" - {report.get('device', '')}", fontsize=10)
    skipped_share = sum(l["share"] for l in skipped)
    caption = (f"area = share of the time; layer sum {report['layer_sum_ms']:.3g} ms vs whole model "
               f"{report['model_ms']['p50']:.3g} ms (median). "
               f"{len(skipped)} layers without FLOPs not drawn ({100 * skipped_share:.1f}% of the time).")
    fig.text(0.01, 0.01, caption, fontsize=8)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.5)
    ax.legend(loc="lower right", fontsize=8, markerscale=0.5)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
