#!/usr/bin/env python3
"""The tables of bench/RESULTS.md's "CPU per new session" section (issue 24), from the
JSON that bench/peers/session-cost.sh leaves in bench/results/session-cost/.

Usage: bench/report/session_cost.py [DIR]   (prints Markdown on stdout)

Every figure is the median of the rounds; a ratio is the median of the per-round
ratios zoneproxy / peer (rounds alternate A B, so each pair shares the machine's state).
"""
import glob
import json
import os
import statistics
import sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "bench", "results", "session-cost")

SUITES = [("ecdsa", "ECDHE-ECDSA-AES128-GCM-SHA256"), ("rsa", "ECDHE-RSA-AES128-GCM-SHA256")]
MODES = [("full", "no resumption anywhere", 1.0), ("resume", "resumption wherever a client offers it", 0.8)]
PEERS = [("nginx", "nginx"), ("haproxy", "HAProxy")]


def load(path):
    with open(path) as f:
        return json.load(f)


def runs(figure, suite, peer, who):
    files = sorted(glob.glob(os.path.join(folder, f"{figure}_{suite}_{peer}_r*_{who}.json")))
    return [load(f) for f in files]


def metric(run, name):
    v = run["metrics"].get(name)
    return v if isinstance(v, (int, float)) else None


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def per_session_table():
    print("| suite | configuration | zoneproxy (us) | nginx (us) | HAProxy (us) | zoneproxy / nginx "
          "(per-round range) | zoneproxy / HAProxy | target | result |")
    print("|---|---|---:|---:|---:|---:|---:|---|---|")
    for tag, suite in SUITES:
        for mode, label, target in MODES:
            figure = f"handshakes-{mode}"
            zp_all, cells, ratios = [], {}, {}
            for peer, _ in PEERS:
                zp = runs(figure, tag, peer, "zoneproxy")
                fw = runs(figure, tag, peer, peer)
                zp_all += zp
                cells[peer] = med(metric(r, "proxy_cpu_us_per_session") for r in fw)
                per_round = [metric(a, "proxy_cpu_us_per_session") / metric(b, "proxy_cpu_us_per_session")
                             for a, b in zip(zp, fw)
                             if metric(a, "proxy_cpu_us_per_session") and metric(b, "proxy_cpu_us_per_session")]
                ratios[peer] = per_round
            zp_cpu = med(metric(r, "proxy_cpu_us_per_session") for r in zp_all)
            nginx = ratios["nginx"]
            nginx_ratio = med(nginx)
            result = "-" if nginx_ratio is None else ("met" if nginx_ratio <= target else "**missed**")
            rng = f" ({min(nginx):.2f}-{max(nginx):.2f})" if nginx else ""
            print(f"| {suite} | {label} | {fmt(zp_cpu)} | {fmt(cells['nginx'])} | {fmt(cells['haproxy'])} | "
                  f"{fmt(nginx_ratio, 2)}x{rng} | {fmt(med(ratios['haproxy']), 2)}x | <= {target}x nginx | {result} |")


def detail_table():
    print("| suite | configuration | target | sessions/s | set-up p50 / p99 (ms) | resumed: endpoint / "
          "Module Server half (zoneproxy), client half (peer) | errors |")
    print("|---|---|---|---:|---:|---|---:|")
    for tag, suite in SUITES:
        for mode, label, _ in MODES:
            figure = f"handshakes-{mode}"
            for who, name in [("zoneproxy", "zoneproxy")] + PEERS:
                rs = []
                if who == "zoneproxy":
                    for peer, _ in PEERS:
                        rs += runs(figure, tag, peer, "zoneproxy")
                else:
                    rs = runs(figure, tag, who, who)
                if not rs:
                    continue
                a = med(metric(r, "resumed_a") for r in rs)
                b = med(metric(r, "resumed_b") for r in rs)
                resumed = "-" if a is None else (f"{a:.3f} / {b:.3f}" if b is not None else f"{a:.3f}")
                p50 = med(metric(r, "setup_p50_us") for r in rs)
                p99 = med(metric(r, "setup_p99_us") for r in rs)
                print(f"| {tag} | {mode} | {name} | {fmt(med(metric(r, 'sessions_per_s') for r in rs))} | "
                      f"{fmt(p50 / 1000 if p50 else None, 1)} / {fmt(p99 / 1000 if p99 else None, 1)} | {resumed} | "
                      f"{sum(r['errors'] for r in rs)} |")


def before_after_table():
    rows = [("pairing", "pairing p50 (us)", "pair_p50_us", 0), ("pairing", "pairing p99 (us)", "pair_p99_us", 0),
            ("idle", "idle memory per paired session (KiB)", "rss_per_session_kib", 1),
            ("handshakes-full", "CPU per session, no resumption (us)", "proxy_cpu_us_per_session", 0),
            ("handshakes-resume", "CPU per session, clients resuming (us)", "proxy_cpu_us_per_session", 0)]
    rounds = sorted({os.path.basename(d).split("-r")[1] for d in glob.glob(os.path.join(folder, "after-r*"))})
    if not rounds:
        return
    name_file = os.path.join(folder, "before-name.txt")
    name = open(name_file).read().strip() if os.path.exists(name_file) else "cf93d65"
    print(f"| figure | before ({name}) | after | after / before (per-round range) |")
    print("|---|---:|---:|---:|")
    for scenario, label, name, digits in rows:
        before, after, ratios = [], [], []
        for r in rounds:
            got = {}
            for who in ("before", "after"):
                files = glob.glob(os.path.join(folder, f"{who}-r{r}", f"{scenario}_*_none_r1_zoneproxy.json"))
                got[who] = metric(load(files[0]), name) if files else None
            before.append(got["before"])
            after.append(got["after"])
            if got["before"] and got["after"]:
                ratios.append(got["after"] / got["before"])
        if not any(before) and not any(after):
            continue  # a run from before this row existed
        rng = f" ({min(ratios):.2f}-{max(ratios):.2f})" if ratios else ""
        print(f"| {label} | {fmt(med(before), digits)} | {fmt(med(after), digits)} | {fmt(med(ratios), 2)}x{rng} |")


print("CPU per new session, the proxy's own (from /proc), medians of 3 paired rounds:\n")
per_session_table()
print("\nThe same runs, what the harness saw:\n")
detail_table()
print("\nzoneproxy before and after this issue, interleaved round by round, ECDSA suite:\n")
before_after_table()
