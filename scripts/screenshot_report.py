#!/usr/bin/env python3
"""Open an `evaluate` report in headless Chromium, take a screenshot, and fail on console
messages or empty plots.

Usage: scripts/screenshot_report.py [REPORT_DIR_OR_INDEX_HTML] [-o SHOT.png]
       (default: seedchip-report/index.html and SHOT = <report dir>/screenshot.png)

Checks, each failing the script (exit 1):
  1. Chromium loads the page and prints no console message at all (the page logs nothing when
     it is fine; uncaught exceptions and `console.error` both show up as CONSOLE lines);
  2. the page's own check script ran (`<body data-checked="yes">` in the rendered DOM);
  3. the page has plots, and every `svg.plot` has `data-marks` > 0: the number of its data
     marks with a non-empty bounding box, measured by the browser's layout engine;
  4. the screenshot is a PNG with coloured pixels (the plots' series), not a blank page.

Needs the Debian package `chromium` (apt-get install chromium) and Python 3 only (the PNG is
decoded with zlib from the standard library).
"""

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("error: no chromium on PATH (apt-get install chromium)")


def run_chromium(binary, args, url):
    profile = tempfile.mkdtemp(prefix="seedchip-shot-")
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        f"--user-data-dir={profile}",
    ] + args + [url]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return proc


def console_lines(stderr):
    return [l for l in stderr.splitlines() if ":CONSOLE" in l]


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB/RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                raise ValueError(f"unsupported PNG (depth {depth}, colour type {ctype})")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def coloured_fraction(path):
    w, h, bpp, rows = png_pixels(path)
    coloured = 0
    for row in rows[::2]:
        for x in range(0, w * bpp, bpp * 2):
            r, g, b = row[x], row[x + 1], row[x + 2]
            if max(r, g, b) - min(r, g, b) > 60:
                coloured += 1
    return coloured / max(1, (w // 2) * (h // 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", nargs="?", default="seedchip-report")
    ap.add_argument("-o", "--output")
    args = ap.parse_args()
    index = args.report
    if os.path.isdir(index):
        index = os.path.join(index, "index.html")
    if not os.path.isfile(index):
        sys.exit(f"error: {index}: no such file (run `seedchip evaluate` first)")
    index = os.path.abspath(index)
    shot = os.path.abspath(args.output or os.path.join(os.path.dirname(index), "screenshot.png"))
    url = "file://" + index
    binary = chromium_binary()
    failures = []

    dom = run_chromium(binary, ["--dump-dom"], url)
    if dom.returncode != 0:
        sys.exit(f"error: chromium --dump-dom exited {dom.returncode}:\n{dom.stderr[-2000:]}")
    for line in console_lines(dom.stderr):
        failures.append(f"console: {line}")
    html = dom.stdout
    if 'data-checked="yes"' not in html:
        failures.append("the page's check script did not run")
    plots = re.findall(r'<svg class="plot"[^>]*>', html)
    if not plots:
        failures.append("no plots on the page")
    for tag in plots:
        label = re.search(r'aria-label="([^"]*)"', tag)
        marks = re.search(r'data-marks="(\d+)"', tag)
        name = label.group(1) if label else "?"
        if not marks:
            failures.append(f"plot `{name}`: not measured by the check script")
        elif int(marks.group(1)) == 0:
            failures.append(f"plot `{name}`: empty (no visible marks)")
        else:
            print(f"plot `{name}`: {marks.group(1)} visible marks")

    height = 900 + 520 * len(plots)
    proc = run_chromium(
        binary, [f"--screenshot={shot}", f"--window-size=1300,{height}"], url
    )
    if proc.returncode != 0 or not os.path.isfile(shot):
        failures.append(f"screenshot failed (exit {proc.returncode}): {proc.stderr[-1000:]}")
    else:
        for line in console_lines(proc.stderr):
            failures.append(f"console (screenshot run): {line}")
        frac = coloured_fraction(shot)
        print(f"screenshot: {shot} (1300x{height}), {100 * frac:.2f}% coloured pixels")
        if frac < 0.002:
            failures.append(f"screenshot looks blank ({100 * frac:.3f}% coloured pixels)")

    if failures:
        for f in failures:
            print("FAIL:", f, file=sys.stderr)
        sys.exit(1)
    print(f"ok: {len(plots)} plots drawn, no console messages")


if __name__ == "__main__":
    main()
