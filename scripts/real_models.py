"""Real pretrained models for quench's model tests: the PP-OCR text detector, direction
classifier and recognizer that the rapidocr-onnxruntime wheel ships, with ONNX Runtime's
outputs as the reference.

Run with the project's venv (scripts/setup.sh makes it: onnxruntime, rapidocr-onnxruntime,
Debian's numpy/opencv-free system packages visible), normally through scripts/make_models.sh:

  .venv/bin/python scripts/real_models.py [--out DIR]

For every model NAME it writes into DIR (default <repo>/.models/real):

  NAME.onnx        the model, copied unchanged from the wheel
  NAME.input.npy   a seeded FP32 input: a rendered text image, normalized as RapidOCR does
  NAME.ort.npy     ONNX Runtime's output (CPU, all graph optimizations off)
  NAME.stamp       hash of this script, the model file and the onnxruntime version; a model
                   whose stamp matches is not made again
"""

import argparse
import hashlib
import os
import shutil
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# name -> (file inside rapidocr_onnxruntime/models, input shape N,C,H,W)
MODELS = {
    # Detector: any H, W that are multiples of 32.
    "ppocr_det": ("ch_PP-OCRv4_det_infer.onnx", (1, 3, 640, 640)),
    # Direction classifier: RapidOCR's cls_image_shape [3, 48, 192].
    "ppocr_cls": ("ch_ppocr_mobile_v2.0_cls_infer.onnx", (1, 3, 48, 192)),
    # Recognizer: RapidOCR's rec_img_shape [3, 48, 320].
    "ppocr_rec": ("ch_PP-OCRv4_rec_infer.onnx", (1, 3, 48, 320)),
}

WORDS = ("quench", "inference", "engine", "CUDA", "ONNX", "latency", "p99", "2024", "kernel",
         "FP16", "INT8", "batch", "tensor", "graph", "Hopper", "stream", "0.125", "planner")


def text_image(shape, seed):
    """A light, slightly noisy page with dark text lines (uint8 HxWx3), deterministic for a seed."""
    import cv2

    rng = np.random.default_rng(seed)
    _, _, h, w = shape
    img = np.full((h, w, 3), 235, np.float32) + rng.normal(0, 6, (h, w, 3)).astype(np.float32)
    img += np.linspace(-15, 15, w, dtype=np.float32)[None, :, None]  # uneven lighting
    img = np.clip(img, 0, 255).astype(np.uint8)
    line_h = 48 if h <= 64 else 40
    scale = 1.1 if h <= 64 else 0.9
    y = line_h - 12
    while y < h:
        x = int(rng.integers(4, 20))
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 6))))
        color = tuple(int(c) for c in rng.integers(0, 70, 3))
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 2, cv2.LINE_AA)
        y += line_h + int(rng.integers(0, 24))
    return img


def normalize(img):
    """RapidOCR's preprocessing for all three models: (x/255 - 0.5) / 0.5, HWC -> NCHW."""
    x = (img.astype(np.float32) / 255.0 - 0.5) / 0.5
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def file_hash(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, ".models", "real"))
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    try:
        import onnxruntime as ort
        import rapidocr_onnxruntime
    except ImportError as e:
        sys.exit(f"real_models: {e}; run scripts/setup.sh and use .venv/bin/python")

    src_dir = os.path.join(os.path.dirname(rapidocr_onnxruntime.__file__), "models")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.abspath(__file__), "rb") as f:
        script = hashlib.sha256(f.read()).hexdigest()
    start = time.time()
    for i, (name, (fname, shape)) in enumerate(MODELS.items()):
        src = os.path.join(src_dir, fname)
        if not os.path.exists(src):
            sys.exit(f"real_models: {src} is missing from the rapidocr-onnxruntime wheel")
        stamp = hashlib.sha256(f"{script} {file_hash(src)} ort={ort.__version__} np={np.__version__}".encode()).hexdigest()
        out = {k: os.path.join(args.out, name + k) for k in (".onnx", ".input.npy", ".ort.npy", ".stamp")}
        if not args.force and all(os.path.exists(p) for p in out.values()):
            with open(out[".stamp"]) as f:
                if f.read().strip() == stamp:
                    print(f"real_models: {name}: up to date")
                    continue
        t0 = time.time()
        x = normalize(text_image(shape, seed=1000 + i))
        assert x.shape == shape, (x.shape, shape)
        so = ort.SessionOptions()
        # No fusions or approximations: the reference is the model as written.
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.intra_op_num_threads = int(os.environ.get("QUENCH_ORT_THREADS", "0"))
        sess = ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
        if len(sess.get_inputs()) != 1 or len(sess.get_outputs()) != 1:
            sys.exit(f"real_models: {name}: expected one input and one output")
        y = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        tmp = out[".onnx"] + ".tmp"
        shutil.copyfile(src, tmp)
        np.save(out[".input.npy"], x)
        np.save(out[".ort.npy"], y)
        os.replace(tmp, out[".onnx"])
        with open(out[".stamp"], "w") as f:
            f.write(stamp + "\n")
        print(f"real_models: {name}: input {list(x.shape)} -> output {list(y.shape)} "
              f"(range {y.min():.3g}..{y.max():.3g}) in {time.time() - t0:.1f} s", flush=True)
    print(f"real_models: done in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
