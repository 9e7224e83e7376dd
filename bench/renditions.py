#!/usr/bin/env python3
"""Renditions: Vitrine's pipeline against libvips' `vipsthumbnail`, on one
core, on the same files, making the same renditions (256, 640 and 1024 px on
the long edge, JPEG, EXIF orientation applied).

Vitrine makes all three from one decode (`worker/examples/renditions.rs`, the
code the worker runs); vips makes one pass per size, as `vipsthumbnail` does.
Both are timed as whole processes with `/usr/bin/time -v`, which also gives
the peak resident memory.

    cargo build --release --workspace --examples
    python3 bench/renditions.py [corpus dir] [repeats]
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

SIZES = [(256, 80), (640, 70), (1024, 85)]


def timed(cmd, env=None):
    out = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {out.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", out.stderr)
    h = int(wall.group(1) or 0)
    seconds = h * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", out.stderr).group(1))
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", out.stderr).group(1))
    return seconds, user + system, rss, out.stdout


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    files = sorted(glob.glob(os.path.join(corpus, "*.jpg")) + glob.glob(os.path.join(corpus, "*.png")))
    example = os.path.join(os.path.dirname(__file__), "..", "target", "release", "examples", "renditions")
    env = dict(os.environ, VIPS_CONCURRENCY="1", OMP_NUM_THREADS="1")
    mb = sum(os.path.getsize(f) for f in files) / 1e6
    print(f"{len(files)} files, {mb:.1f} MB, {corpus}; one core (taskset -c 0); best of {repeats}")

    best_v, best_vips, rules = None, None, None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            wall, cpu, rss, stdout = timed(["taskset", "-c", "0", example, "--tag", "--out", out] + files)
            if "failures 0" not in stdout:
                raise SystemExit(stdout)
            if best_v is None or wall < best_v[0]:
                best_v = (wall, cpu, rss)
                rules = re.search(r"^rules\t([\d.]+) ms\t([\d.]+)% of the total", stdout, re.M)
        with tempfile.TemporaryDirectory() as out:
            total_wall, total_cpu, peak = 0.0, 0.0, 0
            for size, q in SIZES:
                wall, cpu, rss, _ = timed(
                    ["taskset", "-c", "0", "vipsthumbnail", "-s", str(size), "-o", f"{out}/%s_{size}.jpg[Q={q}]"]
                    + files, env)
                total_wall += wall
                total_cpu += cpu
                peak = max(peak, rss)
            if best_vips is None or total_wall < best_vips[0]:
                best_vips = (total_wall, total_cpu, peak)

    n = len(files)
    vw, vc, vr = best_v
    sw, sc, sr = best_vips
    print(f"  Vitrine (one decode, 3 renditions, tagged): {vw:6.2f} s  {n / vw:6.2f} images/s  peak {vr / 1024:6.1f} MiB")
    print(f"  vipsthumbnail (3 passes):                    {sw:6.2f} s  {n / sw:6.2f} images/s  peak {sr / 1024:6.1f} MiB")
    print(f"  speed ratio (vips time / Vitrine time): {sw / vw:.2f}x    memory ratio (Vitrine / vips): {vr / sr:.2f}")
    if rules:
        # Same run: the moderation rules' measures (taken on the preview the
        # renditions made) and their evaluation, against the rendition set.
        print(f"  automatic moderation rules: {float(rules.group(1)):.1f} ms in all, "
              f"{float(rules.group(2)):.2f} % of Vitrine's time (target <= 10 %)")


if __name__ == "__main__":
    main()
