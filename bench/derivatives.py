#!/usr/bin/env python3
"""Derivatives: Vitrine's renderer against libvips' `vipsthumbnail`, on one
core, on the same files, making the same derivatives:

- a WebP 1600 px on the long edge (INSIDE), quality 80
  (`vipsthumbnail -s 1600 -o x.webp[Q=80]`);
- an 800x800 COVER crop at the centre, JPEG quality 80
  (`vipsthumbnail -s 800x800 -m centre -o x.jpg[Q=80]`);

and AVIF encode time against libavif's `avifenc` (libaom, 4:4:4, speed 8,
quantizers 22-28 around the 25 Vitrine's quality 60 maps to: compare the
output sizes printed before reading the times) on the same 800x800 crops (given
as PNG to avifenc; Vitrine's time includes the decode and the crop, so the
comparison favours avifenc).

Vitrine runs the code a lazy request runs (`worker/examples/derivatives.rs`:
decode at the size the plan needs, resize, crop, sRGB, sharpen, encode,
stamp with the ownership statement). Whole processes are timed with
`/usr/bin/time -v`, which also gives the peak resident memory.

    cargo build --release -p vitrine-worker --example derivatives
    python3 bench/derivatives.py [corpus dir] [repeats]

`BENCH_ONLY=webp,jpeg,avif` (any of them) runs only those cases.

Quality at the sizes compared is SSIM on luma (scikit-image, when
installed: `pip install numpy pillow scikit-image`) of each decoded output
against the same reference: Vitrine's lossless PNG of the same derivative
(decoded with `avifdec`/`dwebp`/Pillow). For vipsthumbnail the SSIM also
counts its different resampling, so read it as a bound.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from renditions import timed  # noqa: E402


def ssim_of(reference_png, candidate):
    """SSIM on luma of `candidate` (any format avifdec/dwebp/Pillow read)
    against `reference_png`; None without scikit-image or on a size mismatch."""
    try:
        import numpy as np
        from PIL import Image
        from skimage.metrics import structural_similarity
    except ImportError:
        return None
    path = candidate
    if candidate.endswith(".avif") or candidate.endswith(".webp"):
        path = candidate + ".png"
        tool = ["avifdec", candidate, path] if candidate.endswith(".avif") else ["dwebp", "-quiet", candidate, "-o", path]
        subprocess.run(tool, check=True, capture_output=True)
    a = np.asarray(Image.open(reference_png).convert("L"), dtype=np.float64)
    b = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    if a.shape != b.shape:
        return None
    return structural_similarity(a, b, data_range=255.0)


def mean_ssim(pairs):
    values = [v for v in (ssim_of(r, c) for r, c in pairs) if v is not None]
    return f"SSIM {sum(values) / len(values):.4f} ({len(values)} images)" if values else "SSIM n/a"


def best_of(repeats, run):
    best = None
    for _ in range(repeats):
        r = run()
        if best is None or r[0] < best[0]:
            best = r
    return best


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    files = sorted(glob.glob(os.path.join(corpus, "*.jpg")) + glob.glob(os.path.join(corpus, "*.png")))
    example = os.path.join(os.path.dirname(__file__), "..", "target", "release", "examples", "derivatives")
    env = dict(os.environ, VIPS_CONCURRENCY="1", OMP_NUM_THREADS="1")
    n = len(files)
    mb = sum(os.path.getsize(f) for f in files) / 1e6
    print(f"{n} files, {mb:.1f} MB, {corpus}; one core (taskset -c 0); best of {repeats}")

    cases = [
        ("WebP 1600 INSIDE q80", ["--fit", "inside", "--size", "1600"], "webp",
         ["-s", "1600"], "webp[Q=80]"),
        ("JPEG 800x800 COVER q80", ["--fit", "cover", "--size", "800"], "jpeg",
         ["-s", "800x800", "-m", "centre"], "jpg[Q=80]"),
    ]
    only = set(os.environ.get("BENCH_ONLY", "webp,jpeg,avif").split(","))
    keep = tempfile.mkdtemp()
    for name, ours, fmt, theirs, out_format in cases:
        if fmt not in only:
            continue
        case_dir = os.path.join(keep, fmt)
        reference = os.path.join(case_dir, "reference")
        os.makedirs(reference)
        subprocess.run([example, "--out", reference] + ours + ["--format", "png"] + files,
                       check=True, capture_output=True)

        def vitrine():
            out = tempfile.mkdtemp(dir=case_dir)
            wall, cpu, rss, stdout = timed(["taskset", "-c", "0", example, "--out", out] + ours
                                           + ["--format", fmt] + files)
            if "failures 0" not in stdout:
                raise SystemExit(stdout)
            size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
            return wall, cpu, rss, size, out

        def vips():
            out = tempfile.mkdtemp(dir=case_dir)
            wall, cpu, rss, _ = timed(
                ["taskset", "-c", "0", "vipsthumbnail"] + theirs + ["-o", f"{out}/%s.{out_format}"] + files, env)
            size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
            return wall, cpu, rss, size, out

        vw, _, vr, vs, vout = best_of(repeats, vitrine)
        sw, _, sr, ss, sout = best_of(repeats, vips)
        refs = {os.path.splitext(f)[0]: os.path.join(reference, f) for f in os.listdir(reference)}

        def pairs(out):
            for f in sorted(os.listdir(out)):
                stem = os.path.splitext(f)[0]
                if stem in refs:
                    yield refs[stem], os.path.join(out, f)

        print(f"{name}")
        print(f"  Vitrine:       {vw:6.2f} s  {n / vw:6.2f} images/s  peak {vr / 1024:6.1f} MiB  "
              f"{vs / 1e6:6.2f} MB out  {mean_ssim(pairs(vout))}")
        print(f"  vipsthumbnail: {sw:6.2f} s  {n / sw:6.2f} images/s  peak {sr / 1024:6.1f} MiB  "
              f"{ss / 1e6:6.2f} MB out  {mean_ssim(pairs(sout))}")
        print(f"  speed ratio (vips time / Vitrine time): {sw / vw:.2f}x    memory ratio (Vitrine / vips): {vr / sr:.2f}")

    # AVIF: Vitrine's whole derivative against avifenc encoding the same crop.
    if "avif" not in only:
        return
    with tempfile.TemporaryDirectory() as out:
        pngs = os.path.join(out, "png")
        os.mkdir(pngs)
        wall, _, _, stdout = timed(["taskset", "-c", "0", example, "--out", pngs, "--fit", "cover", "--size", "800",
                                    "--format", "png"] + files)
        png_files = sorted(glob.glob(os.path.join(pngs, "*.png")))
        mp = len(png_files) * 0.64
        avifs = os.path.join(out, "avif")
        os.mkdir(avifs)
        aw, _, ar, stdout = timed(["taskset", "-c", "0", example, "--out", avifs, "--fit", "cover", "--size", "800",
                                   "--format", "avif", "--quality", "60"] + files)
        ours = sum(os.path.getsize(os.path.join(avifs, f)) for f in os.listdir(avifs))
        our_pairs = [(png, os.path.join(avifs, os.path.basename(png)[:-4] + ".avif")) for png in png_files]
        total, size = 0.0, 0
        for png in png_files:
            dest = png[:-4] + ".avif"
            w, _, _, _ = timed(["taskset", "-c", "0", "avifenc", "-c", "aom", "-j", "1", "-s", "8", "-y", "444",
                                "--min", "22", "--max", "28", png, dest])
            total += w
            size += os.path.getsize(dest)
        print("AVIF 800x800 COVER (quality 60, speed 8)")
        their_pairs = [(png, png[:-4] + ".avif") for png in png_files]
        print(f"  Vitrine (decode+crop+libaom+stamp): {aw:6.2f} s  {aw / mp:5.2f} s/MP  {ours / 1e6:6.2f} MB  "
              f"{mean_ssim(our_pairs)}")
        print(f"  avifenc (libaom 4:4:4, q 22-28):   {total:6.2f} s  {total / mp:5.2f} s/MP  {size / 1e6:6.2f} MB  "
              f"{mean_ssim(their_pairs)}")


if __name__ == "__main__":
    main()
