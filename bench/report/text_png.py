#!/usr/bin/env python3
"""Draws a captured terminal (plain text) as a PNG, light on dark, monospace.

Usage: text_png.py TEXT_FILE OUT.png
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        lines = f.read().rstrip("\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    columns = max((len(line) for line in lines), default=1)
    width, height = 0.0925 * columns + 0.5, 0.19 * len(lines) + 0.4
    fig = plt.figure(figsize=(width, height), dpi=110, facecolor="#1e1e1e")
    fig.text(0.02, 0.98, "\n".join(lines), family="monospace", size=10.5, color="#e8e8e8",
             va="top", ha="left", linespacing=1.25)
    fig.savefig(sys.argv[2], facecolor=fig.get_facecolor())
    return 0


if __name__ == "__main__":
    sys.exit(main())
