#!/usr/bin/env python3
"""Make keycab's QR robustness set: 120 camera-like 640x480 grey frames.

Usage: robustset.py OUTDIR

Made only with tools independent of every decoder compared: qrencode
(Debian qrencode) draws the symbol, ImageMagick's convert (Debian
imagemagick) puts it in a frame and degrades it. Python's own random with a
fixed seed chooses each frame's text and degradations, and ImageMagick's
noise takes a fixed -seed per frame, so the same tools give the same frames.

Per frame, each drawn from the seeded generator:
  - text "KEY:NNNN:xxxxxxxx", error correction M, quiet zone 4 modules;
  - module 3 to 6 px (3 px on a third of the frames);
  - rotation anywhere in 360 degrees and a perspective tilt (each corner
    moved up to 7% of the symbol's side);
  - a background from flat to a lit gradient, contrast from full down to
    about 50 grey levels;
  - Gaussian blur sigma 0 to 1.5 px, Gaussian noise, a glare spot over or beside the
    symbol on 40%.

Writes OUTDIR/fNNN.png (8-bit grey) and OUTDIR/manifest.json, a list of
{"file", "text", "desc"}. Used by hardware/qr's TestRobustSet and
BenchmarkRobustSet, which keep the frames in a cache keyed by this file's
hash.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

W, H, N, SEED = 640, 480, 120, 19


def frame(rng, i, tmp, out):
    text = "KEY:%04d:%08x" % (i, rng.getrandbits(32))
    module = rng.choice([3, 3, 4, 5, 6])
    angle = rng.uniform(-180, 180)
    tilt = rng.uniform(0, 0.07)
    dark = rng.uniform(0, 45)        # percent of white for the dark modules
    light = rng.uniform(dark + 20, 100)
    blur = rng.choice([0, rng.uniform(0.3, 0.9), rng.uniform(0.8, 1.5)])
    noise = rng.uniform(0, 0.9)      # ImageMagick -attenuate for Gaussian noise
    glare = rng.random() < 0.4
    grad = rng.random() < 0.5

    sym = os.path.join(tmp, "sym%03d.png" % i)
    subprocess.run(["qrencode", "-l", "M", "-m", "4", "-s", str(module), "-o", sym, text], check=True)
    side = int(subprocess.run(["identify", "-format", "%w", sym], check=True,
                              capture_output=True, text=True).stdout)
    # Perspective: move each corner by up to tilt*side.
    j = lambda: rng.uniform(-tilt, tilt) * side
    s = side - 1
    corners = [(0, 0), (s, 0), (s, s), (0, s)]
    persp = " ".join("%d,%d %.1f,%.1f" % (x, y, x + j(), y + j()) for x, y in corners)
    # Where the (rotated) symbol goes; keep it inside the frame.
    ext = int(side * 1.45) + 2
    px = rng.uniform(0, max(0, W - ext))
    py = rng.uniform(0, max(0, H - ext))
    if grad:
        bg = ["-size", "%dx%d" % (W, H), "gradient:gray%d-gray%d" % (rng.randint(55, 100), rng.randint(55, 100)),
              "-rotate", str(rng.choice([0, 90])), "-resize", "%dx%d!" % (W, H)]
    else:
        bg = ["-size", "%dx%d" % (W, H), "xc:white"]
    cmd = ["convert"] + bg + [
        "(", sym, "-virtual-pixel", "white", "-background", "white",
        "+distort", "Perspective", persp, "-rotate", "%.2f" % angle, ")",
        "-geometry", "+%d+%d" % (px, py), "-compose", "Multiply", "-composite",
        "-compose", "Over"]
    if blur:
        cmd += ["-blur", "0x%.2f" % blur]
    cmd += ["+level", "%.1f%%,%.1f%%" % (dark, light)]
    if glare:
        gx, gy, gr = px + rng.uniform(0, ext), py + rng.uniform(0, ext), rng.uniform(20, 60)
        cmd += ["(", "-size", "%dx%d" % (W, H), "xc:black", "-fill", "gray%d" % rng.randint(45, 80),
                "-draw", "circle %.0f,%.0f %.0f,%.0f" % (gx, gy, gx + gr, gy), "-blur", "0x%.0f" % (gr / 2), ")",
                "-compose", "Plus", "-composite", "-compose", "Over"]
    if noise > 0.05:
        cmd += ["-seed", str(1000 + i), "-attenuate", "%.2f" % noise, "+noise", "Gaussian"]
    name = "f%03d.png" % i
    cmd += ["-colorspace", "Gray", "-depth", "8", "-define", "png:color-type=0", "-define",
            "png:bit-depth=8", os.path.join(out, name)]
    subprocess.run(cmd, check=True)
    desc = "module %dpx rot %.0f tilt %.3f level %.0f-%.0f%% blur %.2f noise %.2f glare %s gradient %s" % (
        module, angle, tilt, dark, light, blur, noise, glare, grad)
    return {"file": name, "text": text, "desc": desc}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        manifest = [frame(rng, i, tmp, out) for i in range(N)]
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
