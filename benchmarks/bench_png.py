"""PNG writing: ``pasta_png`` against Pillow (``compress_level=1``), time and size.

Three sets of images: 16 of the procedural renderer (8 styles, 256 px), 16 smooth noisy
pictures at 256 px (a 16x16 random field upsampled bicubically, plus Gaussian noise of
sd 4, a stand-in for photographs) and 2 of them at 1024 px. Every file is decoded again
and checked pixel for pixel. Medians over ``--repeats`` passes, one thread.

    .venv/bin/python benchmarks/bench_png.py
    .venv/bin/python benchmarks/bench_png.py --repeats 3 --json out.json
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time

import numpy as np
from PIL import Image

from pasta_core.folder import pillow_png
from pasta_png import png_bytes

STYLES = ("oil painting", "watercolor", "photo", "pixel art", "sketch", "flat", "poster", "3d render")


def smooth_picture(seed: int, size: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize((size, size), Image.Resampling.BICUBIC), np.float32)
    return Image.fromarray(np.clip(smooth + rng.normal(0, 4, smooth.shape), 0, 255).astype(np.uint8))


def image_sets() -> dict[str, list[Image.Image]]:
    from pasta_core import get_plugins

    t2i = get_plugins().create("t2i", "procedural")
    prompts = [f"a white cat on a windowsill, {style}" for style in STYLES] * 2
    return {
        "procedural 256 px x16": t2i.render(prompts, list(range(16))),
        "smooth noisy 256 px x16": [smooth_picture(i, 256) for i in range(16)],
        "smooth noisy 1024 px x2": [smooth_picture(i, 1024) for i in range(2)],
    }


def measure(images: list[Image.Image], encode, repeats: int) -> tuple[float, int]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        files = [encode(image) for image in images]
        times.append(time.perf_counter() - start)
    for image, data in zip(images, files):
        if not np.array_equal(np.asarray(Image.open(io.BytesIO(data))), np.asarray(image)):
            raise SystemExit("a PNG file did not decode to its image")
    return statistics.median(times), sum(map(len, files))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    results = {}
    for name, images in image_sets().items():
        ours_s, ours_bytes = measure(images, png_bytes, args.repeats)
        pil_s, pil_bytes = measure(images, pillow_png, args.repeats)
        results[name] = {"pasta_ms": round(ours_s * 1e3, 2), "pillow_ms": round(pil_s * 1e3, 2),
                         "pillow_time_ratio": round(pil_s / ours_s, 2),
                         "pasta_kib": ours_bytes // 1024, "pillow_kib": pil_bytes // 1024,
                         "size_ratio": round(ours_bytes / pil_bytes, 3)}
        print(f"{name:26s} pasta {ours_s * 1e3:7.1f} ms  Pillow {pil_s * 1e3:7.1f} ms  "
              f"({pil_s / ours_s:.2f}x)  size {ours_bytes / pil_bytes:.3f} of Pillow's")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
