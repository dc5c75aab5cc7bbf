"""Sample inputs for the INT8 accuracy study of the PP-OCR models (docs/int8.md): rendered text,
since the models read text. Calibration and evaluation sets come from disjoint seeds.

  .venv/bin/python scripts/ocr_samples.py [--out DIR] [--calib N] [--eval N] [--det-size S] [--only cls|det]

Writes, under DIR (default <repo>/.models/study):

  cls_calib/NNNN.npy, cls_eval/NNNN.npy   [3, 48, 192] float32 text lines, normalized as RapidOCR
                                          does; half of them turned upside down (the classifier's
                                          two classes are 0 and 180 degrees)
  cls_eval_labels.txt                     per eval file: 0 upright, 1 upside down
  det_calib/NNNN.npy, det_eval/NNNN.npy   [3, S, S] float32 pages of text lines
  cls.stamp, det.stamp                    hash of this script and the arguments; an up-to-date
                                          set is not made again
"""

import argparse
import hashlib
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from real_models import WORDS, normalize  # noqa: E402  (one preprocessing for every OCR input)

FONTS = (0, 1, 2, 3, 4, 6, 7)  # cv2.FONT_HERSHEY_* faces that draw Latin text


def text_line(rng, h=48, w=192):
    """One text line as RapidOCR's classifier receives it: rendered, resized to height h keeping
    its aspect ratio (width at most w), padded on the right with zeros after normalization."""
    import cv2

    text = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 4))))
    font = int(rng.choice(FONTS))
    scale = float(rng.uniform(0.8, 1.6))
    thick = int(rng.integers(1, 4))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    pad = int(rng.integers(2, 10))
    img = np.full((th + base + 2 * pad, tw + 2 * pad, 3), rng.integers(170, 256), np.float32)
    img += rng.normal(0, rng.uniform(2, 10), img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    color = tuple(int(c) for c in rng.integers(0, 90, 3))
    cv2.putText(img, text, (pad, pad + th), font, scale, color, thick, cv2.LINE_AA)
    new_w = min(w, max(1, int(round(img.shape[1] * h / img.shape[0]))))
    img = cv2.resize(img, (new_w, h), interpolation=cv2.INTER_LINEAR)
    flipped = bool(rng.integers(0, 2))
    if flipped:
        img = cv2.rotate(img, cv2.ROTATE_180)
    x = normalize(img)[0]
    out = np.zeros((3, h, w), np.float32)
    out[:, :, :new_w] = x
    return out, int(flipped)


def text_page(rng, size):
    """A light, noisy page with dark text lines of several sizes and fonts."""
    import cv2

    img = np.full((size, size, 3), rng.integers(200, 250), np.float32)
    img += rng.normal(0, rng.uniform(3, 9), img.shape).astype(np.float32)
    img += np.linspace(-15, 15, size, dtype=np.float32)[None, :, None] * rng.uniform(-1, 1)
    img = np.clip(img, 0, 255).astype(np.uint8)
    y = int(rng.integers(24, 60))
    while y < size - 8:
        scale = float(rng.uniform(0.6, 1.4))
        x = int(rng.integers(4, size // 4))
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 6))))
        color = tuple(int(c) for c in rng.integers(0, 80, 3))
        cv2.putText(img, text, (x, y), int(rng.choice(FONTS)), scale, color, int(rng.integers(1, 3)), cv2.LINE_AA)
        y += int(30 * scale) + int(rng.integers(8, 40))
    return normalize(img)[0]


def write_set(folder, make, count, seed):
    os.makedirs(folder, exist_ok=True)
    labels = []
    for i in range(count):
        rng = np.random.default_rng(seed + i)
        x, label = make(rng)
        np.save(os.path.join(folder, f"{i:04d}.npy"), x)
        labels.append(label)
    return labels


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, ".models", "study"))
    ap.add_argument("--calib", type=int, default=256)
    ap.add_argument("--eval", type=int, default=200)
    ap.add_argument("--det-size", type=int, default=640)
    ap.add_argument("--only", choices=("cls", "det"), help="make one model's sets only")
    args = ap.parse_args()
    with open(os.path.abspath(__file__), "rb") as f:
        script = f.read()
    # Seeds: calibration from 100000 (cls) / 300000 (det), evaluation from 200000 / 400000: no
    # image is in both sets.
    sets = {
        "cls": (lambda rng: text_line(rng), 100000, 200000, ""),
        "det": (lambda rng: (text_page(rng, args.det_size), 0), 300000, 400000, f" {args.det_size}"),
    }
    for kind, (make, calib_seed, eval_seed, extra) in sets.items():
        if args.only and args.only != kind:
            continue
        stamp = hashlib.sha256(script + f"{kind} {args.calib} {args.eval}{extra}".encode()).hexdigest()
        stamp_file = os.path.join(args.out, f"{kind}.stamp")
        if os.path.exists(stamp_file) and open(stamp_file).read().strip() == stamp:
            print(f"ocr_samples: {kind} samples up to date")
            continue
        write_set(os.path.join(args.out, f"{kind}_calib"), make, args.calib, calib_seed)
        labels = write_set(os.path.join(args.out, f"{kind}_eval"), make, args.eval, eval_seed)
        if kind == "cls":
            with open(os.path.join(args.out, "cls_eval_labels.txt"), "w") as f:
                f.write("\n".join(str(v) for v in labels) + "\n")
        with open(stamp_file, "w") as f:
            f.write(stamp + "\n")
        print(f"ocr_samples: {kind}: {args.calib} calibration and {args.eval} evaluation samples in {args.out}")


if __name__ == "__main__":
    main()
