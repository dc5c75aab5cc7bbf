"""The INT8 accuracy study of docs/int8.md: the PP-OCR direction classifier and text detector,
calibrated on rendered text (scripts/ocr_samples.py) and evaluated on a disjoint set, on the CPU
INT8 reference against the FP32 reference. Rewrites the section of docs/int8.md between the
int8-study markers, stamped with the commit, the machine and the date; raw reports go to
bench/results/int8-study-<date>/.

  python3 scripts/int8_study.py --quench build/examples/quench [--calib N] [--eval N]

Needs .models/real (scripts/make_models.sh) and .models/study (scripts/ocr_samples.py).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BEGIN, END = "<!-- int8-study:begin -->", "<!-- int8-study:end -->"

# (label, model, input shape, sample sets, extra options, checked in CI). The detector is too slow
# on the CPU reference for CI (about 2 s per image per engine); the study runs it by hand.
RUNS = [
    ("classifier, entropy", "ppocr_cls", "1x3x48x192", "cls", ["--calib-method", "entropy"], False),
    ("classifier, percentile 99.99", "ppocr_cls", "1x3x48x192", "cls", ["--calib-method", "percentile"], False),
    ("classifier, max", "ppocr_cls", "1x3x48x192", "cls", ["--calib-method", "max"], False),
    ("classifier, percentile 99.99, budget 0.005", "ppocr_cls", "1x3x48x192", "cls",
     ["--calib-method", "percentile", "--int8-budget", "0.005", "--sensitivity-samples", "16"], True),
    ("detector, percentile 99.99", "ppocr_det", "1x3x640x640", "det", ["--calib-method", "percentile"], False),
    ("detector, percentile 99.99, budget 0.05", "ppocr_det", "1x3x640x640", "det",
     ["--calib-method", "percentile", "--int8-budget", "0.05", "--sensitivity-samples", "2"], False),
]


def git(*args):
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quench", required=True)
    ap.add_argument("--calib", type=int, default=256)
    ap.add_argument("--eval", type=int, default=200)
    ap.add_argument("--only", help="run only labels containing this text")
    ap.add_argument("--check", action="store_true",
                    help="only the runs CI checks; fail when one misses its target; leave docs/int8.md and "
                         "bench/results alone")
    args = ap.parse_args()
    study = os.path.join(REPO, ".models", "study")
    date = datetime.date.today().isoformat()
    raw_dir = os.path.join(REPO, "bench", "results", f"int8-study-{date}")
    if not args.check:
        os.makedirs(raw_dir, exist_ok=True)
    rows = []
    for label, model, shape, kind, extra, in_ci in RUNS:
        if (args.only and args.only not in label) or (args.check and not in_ci):
            continue
        cmd = [args.quench, "validate", os.path.join(REPO, ".models", "real", model + ".onnx"), "--shape", f"x={shape}",
               "--precision", "int8", "--calib", os.path.join(study, f"{kind}_calib"), "--calib-samples", str(args.calib),
               "--inputs", os.path.join(study, f"{kind}_eval"), "--samples", str(args.eval), "--json", *extra]
        if kind == "det":
            cmd += ["--iou-threshold", "0.3"]
        t0 = time.time()
        print(f"int8_study: {label} ...", file=sys.stderr, flush=True)
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"int8_study: {label}: exit {p.returncode}: {p.stderr.strip()[-2000:]}")
        r = json.loads(p.stdout)
        out = r["outputs"][0]
        print(f"int8_study: {label}: error {r['error']:.5f}, " +
              (f"top-1 agreement {out['top1_agree']}/{out['top1_total']}" if "top1_total" in out else
               f"IoU@0.3 mean {out['iou_mean']:.4f}") + f" in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
        if args.check:
            ok = out["top1_agree"] >= 0.99 * out["top1_total"] if "top1_total" in out else out["iou_mean"] >= 0.97
            if not ok:
                sys.exit(f"int8_study: {label} misses its target")
            continue
        name = label.replace(", ", "_").replace(" ", "_")
        with open(os.path.join(raw_dir, name + ".json"), "w") as f:
            json.dump(r, f, indent=1)
        layers = r["int8"]["layers"]
        rows.append({"label": label, "seconds": time.time() - t0, "r": r, "out": out,
                     "int8": sum(l["precision"] == "int8" for l in layers), "products": len(layers),
                     "float": [l["node"] for l in layers if l["precision"] != "int8"]})

    if args.check:
        print("int8_study: every target met", file=sys.stderr)
        return
    lines = [BEGIN, "",
             f"Written by `scripts/int8_study.py` at commit {git('rev-parse', '--short', 'HEAD')} on {date}, "
             f"{platform.machine()} CPU (`{platform.node()}`), CPU INT8 reference against the FP32 reference "
             "(the ONNX graph as written). Raw reports: `bench/results/int8-study-" + date + "/`.", "",
             f"Calibration: the first {args.calib} samples of `.models/study/*_calib`; evaluation: the first "
             f"{args.eval} of `*_eval`, rendered from disjoint seeds by `scripts/ocr_samples.py` (text lines "
             "48x192, half upside down, for the classifier; 640x640 pages of text for the detector).", "",
             "| model, calibration | products in INT8 | rel. L2 mean (max) | top-1 agreement | IoU@0.3 mean (min) | target met |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        o = row["out"]
        top1 = f"{o['top1_agree']}/{o['top1_total']} ({100 * o['top1_agree'] / o['top1_total']:.1f}%)" if "top1_total" in o else "-"
        iou = f"{o['iou_mean']:.4f} ({o['iou_min']:.4f})" if "iou_mean" in o else "-"
        if "top1_total" in o:
            met = "yes" if o["top1_agree"] >= 0.99 * o["top1_total"] else "**no**"
        else:
            met = "yes" if o["iou_mean"] >= 0.97 else "**no**"
        lines.append(f"| {row['label']} | {row['int8']}/{row['products']} | {o['rel_l2_mean']:.4f} ({o['rel_l2_max']:.4f}) "
                     f"| {top1} | {iou} | {met} |")
    lines.append("")
    lines.append("Targets (issue 6): classifier top-1 agreement >= 99%, detector probability-map IoU at threshold "
                 "0.3 >= 0.97 (mean over the evaluation images).")
    for row in rows:
        if row["float"]:
            lines.append("")
            lines.append(f"{row['label']}: kept float by the sensitivity pass: " + ", ".join(f"`{n}`" for n in row["float"]) +
                         f" (error on the budget samples {row['r']['int8']['budget_error']:.4f}).")
    lines += ["", END]
    doc = os.path.join(REPO, "docs", "int8.md")
    text = open(doc).read()
    section = "\n".join(lines)
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n## Accuracy study: PP-OCR\n\n" + section + "\n"
    with open(doc, "w") as f:
        f.write(text)
    print(f"int8_study: docs/int8.md updated ({len(rows)} runs)", file=sys.stderr)


if __name__ == "__main__":
    main()
