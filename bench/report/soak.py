#!/usr/bin/env python3
"""Plots a soak run's samples (bench/own-daemon.sh with ZP_DAEMON_SAMPLES) and prints the
drift figures of RELIABILITY.md: RSS and descriptors from minute 5 to the end.

Usage: /usr/bin/python3 bench/report/soak.py SAMPLES [--png soak.png]
Needs Debian's python3-matplotlib for the plot; the figures need only the standard library.
"""
import argparse
import statistics


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samples")
    ap.add_argument("--png")
    a = ap.parse_args()
    rows = []
    with open(a.samples) as f:
        next(f)  # header
        for line in f:
            parts = line.split()
            if len(parts) == 4:
                rows.append(tuple(int(x) for x in parts))
    after5 = [r for r in rows if r[0] >= 300]
    if len(after5) < 2:
        raise SystemExit("soak.py: fewer than two samples after minute 5")

    def drift(col):
        # First and last minute's medians, so one sample's noise does not decide it.
        first = statistics.median(r[col] for r in after5 if r[0] < after5[0][0] + 60)
        last = statistics.median(r[col] for r in after5 if r[0] > after5[-1][0] - 60)
        return first, last, (last - first) / first * 100 if first else float("nan")

    for name, col in (("rss_kib", 1), ("fds", 2)):
        first, last, pct = drift(col)
        print(f"{name}: minute 5 {first:.0f}, end {last:.0f}, drift {pct:+.1f} %")
    print(f"samples: {len(rows)} over {rows[-1][0] / 60:.1f} min, live sessions median "
          f"{statistics.median(r[3] for r in rows):.0f}")
    if a.png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        t = [r[0] / 60 for r in rows]
        fig, ax = plt.subplots(1, 3, figsize=(14, 4))
        for axis, col, title in ((ax[0], 1, "RSS (KiB)"), (ax[1], 2, "open descriptors"), (ax[2], 3, "live sessions")):
            axis.plot(t, [r[col] for r in rows])
            axis.set_title(title)
            axis.set_xlabel("minutes")
            axis.axvline(5, color="grey", linestyle=":")
            axis.set_ylim(bottom=0)
        fig.suptitle("zoneproxy under chaos: soak (dotted line: minute 5, where drift is measured from)")
        fig.tight_layout()
        fig.savefig(a.png, dpi=90)


if __name__ == "__main__":
    main()
