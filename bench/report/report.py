#!/usr/bin/python3
"""Turns bench/results/*.json (written by bench/peers/compare.sh) into the comparison
section of bench/RESULTS.md (between <!-- comparison:begin --> and
<!-- comparison:end -->) and three plots next to it: bench/throughput.png,
bench/latency.png, bench/memory.png.

Usage: /usr/bin/python3 bench/report/report.py [--results DIR] [--markdown FILE] [--plots DIR]

Needs Debian's python3-matplotlib (bench/peers/install.sh); the standard library
otherwise. Medians are over rounds. A ratio against a peer is "paired": the median of
the zoneproxy rounds run alternately with that peer (same compare.sh run) divided by
that peer's median, so both sides saw the same machine state.
"""

import argparse
import glob
import json
import os
import statistics
import sys

PEERS = ["haproxy", "stunnel", "nginx"]
TARGETS = ["zoneproxy"] + PEERS
SUITES = [("ecdsa", "ECDHE-ECDSA-AES128-GCM-SHA256"), ("rsa", "ECDHE-RSA-AES128-GCM-SHA256")]
COLORS = {"zoneproxy": "#1f77b4", "haproxy": "#ff7f0e", "stunnel": "#2ca02c", "nginx": "#d62728"}

# (figure, metric, label, unit, higher_is_better, target) -- target: (op, factor) or None
ROWS = [
    ("throughput-one", "mb_per_s", "relay throughput, one direction", "MB/s", True, (">=", 1.2)),
    ("throughput-both", "mb_per_s", "relay throughput, both directions", "MB/s", True, (">=", 1.2)),
    ("throughput-one", "cpu_s_per_gb", "CPU per GB relayed, one direction", "CPU s/GB", False, None),
    ("throughput-both", "cpu_s_per_gb", "CPU per GB relayed, both directions", "CPU s/GB", False, None),
    ("handshakes", "sessions_per_s", "new sessions per second", "1/s", True, (">=", 1.0)),
    ("handshakes", "setup_p99_us", "session set-up p99", "us", False, None),
    ("latency", "p50_us", "echo latency p50", "us", False, None),
    ("latency", "p99_us", "echo latency p99", "us", False, ("<=", 1.0)),
    ("latency", "p999_us", "echo latency p99.9", "us", False, None),
    ("idle", "rss_per_session_kib", "idle memory per session", "KiB", False, ("<=", 0.75)),
]
ERROR_FIGURES = ["throughput-one", "throughput-both", "latency", "handshakes", "idle", "churn", "pairing"]


def load(results_dir):
    """runs[(suite_tag, figure, peer_run)][target_name] = [json, ...] by round."""
    runs = {}
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        with open(path) as f:
            doc = json.load(f)
        c = doc.get("compare")
        if not c:
            continue
        key = (c["suite_tag"], c["figure"], c["peer"])
        runs.setdefault(key, {}).setdefault(c["target_name"], []).append(doc)
    for by_target in runs.values():
        for docs in by_target.values():
            docs.sort(key=lambda d: d["compare"]["round"])
    return runs


def med(docs, metric):
    vals = [d["metrics"][metric] for d in docs if metric in d.get("metrics", {})]
    return statistics.median(vals) if vals else None


def fmt(v, unit=""):
    if v is None:
        return "-"
    if unit in ("CPU s/GB",):
        return f"{v:.2f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}"


class Figure:
    """Medians of one metric for one suite: zoneproxy over all its rounds, each peer,
    and the paired ratio against each peer."""

    def __init__(self, runs, suite_tag, figure, metric):
        self.zp_all = []
        self.peer = {}
        self.paired = {}
        self.rounds = {}
        for p in PEERS:
            by = runs.get((suite_tag, figure, p), {})
            zp, fw = by.get("zoneproxy", []), by.get(p, [])
            self.zp_all += zp
            m_fw, m_zp = med(fw, metric), med(zp, metric)
            if m_fw is not None:
                self.peer[p] = m_fw
                self.rounds[p] = [d["metrics"][metric] for d in fw]
            if m_fw and m_zp is not None:
                self.paired[p] = m_zp / m_fw
        self.zp = med(self.zp_all, metric)
        self.zp_rounds = [d["metrics"][metric] for d in self.zp_all if metric in d["metrics"]]


def best_peer(fig, higher):
    if not fig.peer:
        return None
    pick = max if higher else min
    return pick(fig.peer, key=lambda p: fig.peer[p])


def errors_for(runs, suite_tag, figure, zoneproxy):
    """(errors, runs, samples) of zoneproxy's runs (zoneproxy=True) or the peers'."""
    total, n, samples = 0, 0, []
    for (s, f, _), by in runs.items():
        if s != suite_tag or f != figure:
            continue
        for target, docs in by.items():
            if (target == "zoneproxy") != zoneproxy:
                continue
            for d in docs:
                n += 1
                total += d.get("errors", 0)
                samples += [f"{target}: {x}" for x in d.get("error_samples", [])[:1]]
    return total, n, samples[:2]


def suite_table(runs, suite_tag, suite):
    lines = [f"### {suite}", "",
             "| figure | zoneproxy | HAProxy | stunnel | nginx | best peer | zoneproxy / best (paired) | target | result |",
             "|---|---:|---:|---:|---:|---|---:|---|---|"]
    verdicts = []
    lines_after = []
    for figure, metric, label, unit, higher, target in ROWS:
        fig = Figure(runs, suite_tag, figure, metric)
        if fig.zp is None and not fig.peer:
            continue
        b = best_peer(fig, higher)
        ratio = fig.paired.get(b) if b else None
        tgt, res = "", ""
        if target:
            op, factor = target
            word = "leanest" if metric == "rss_per_session_kib" else "best"
            tgt = f"{op} {factor:g}x {word}"
            if ratio is None:
                res = "no data"
            else:
                ok = ratio >= factor if op == ">=" else ratio <= factor
                res = "**met**" if ok else "**missed**"
                verdicts.append((suite, label, ratio, tgt, ok))
        cells = [fmt(fig.peer.get(p), unit) for p in PEERS]
        lines.append(f"| {label} ({unit}) | {fmt(fig.zp, unit)} | " + " | ".join(cells) +
                     f" | {b or '-'} | {f'{ratio:.2f}x' if ratio is not None else '-'} | {tgt} | {res} |")
    zp_pairing = runs.get((suite_tag, "pairing", "none"), {}).get("zoneproxy", [])
    if zp_pairing:
        lines.append(f"| pairing p50 / p99, zoneproxy only (us) | {fmt(med(zp_pairing, 'pair_p50_us'))} / "
                     f"{fmt(med(zp_pairing, 'pair_p99_us'))} | | | | | | | |")
    all_zero = True
    for zoneproxy in (True, False):
        cells = []
        for figure in ERROR_FIGURES:
            total, n, samples = errors_for(runs, suite_tag, figure, zoneproxy)
            if n == 0:
                continue
            if zoneproxy:
                all_zero = all_zero and total == 0
            cells.append(f"{figure} {total}/{n}")
            if samples:
                lines_after.append(f"- {figure}: error samples: " + "; ".join(f"`{x}`" for x in samples))
        if zoneproxy:
            lines.append(f"| zoneproxy errors (figure errors/runs) | {', '.join(cells)} | | | | | | 0 | "
                         f"{'**met**' if all_zero else '**missed**'} |")
        else:
            lines.append(f"| peers' errors, all three (figure errors/runs) | | {', '.join(cells)} | | | | | | |")
    verdicts.append((suite, "zero errors in every scenario", None, "0", all_zero))
    lines += [""] + lines_after if lines_after else []
    return lines, verdicts


def paired_table(runs):
    lines = ["Paired ratios zoneproxy / peer (median of each compare.sh run; per-round range "
             "in brackets: min-max of zoneproxy round i / peer round i):", "",
             "| suite | figure | vs HAProxy | vs stunnel | vs nginx |", "|---|---|---:|---:|---:|"]
    for suite_tag, suite in SUITES:
        for figure, metric, label, unit, higher, target in ROWS:
            cells = []
            for p in PEERS:
                by = runs.get((suite_tag, figure, p), {})
                zp, fw = by.get("zoneproxy", []), by.get(p, [])
                if not zp or not fw or not med(fw, metric):
                    cells.append("-")
                    continue
                per = [z["metrics"][metric] / f["metrics"][metric] for z, f in zip(zp, fw)
                       if f["metrics"].get(metric)]
                cells.append(f"{med(zp, metric) / med(fw, metric):.2f}x ({min(per):.2f}-{max(per):.2f})")
            if any(c != "-" for c in cells):
                lines.append(f"| {suite_tag} | {label} | " + " | ".join(cells) + " |")
    return lines


def plots(runs, plot_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def bars(ax, groups, metric_of, ylabel, title, log=False):
        width = 0.8 / len(TARGETS)
        for i, t in enumerate(TARGETS):
            meds, lo, hi = [], [], []
            for suite_tag, figure, metric in metric_of(groups):
                vals = values(runs, suite_tag, figure, metric, t)
                m = statistics.median(vals) if vals else 0
                meds.append(m)
                lo.append(m - min(vals) if vals else 0)
                hi.append(max(vals) - m if vals else 0)
            xs = [g + (i - (len(TARGETS) - 1) / 2) * width for g in range(len(groups))]
            ax.bar(xs, meds, width, yerr=[lo, hi], capsize=2, label=t, color=COLORS[t])
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([g[0] for g in groups], fontsize=8)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        if log and any(v > 0 for t in TARGETS for g in metric_of(groups) for v in values(runs, *g, t)):
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)

    def metric_list(groups):
        return [(g[1], g[2], g[3]) for g in groups]

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    dirs = {"throughput-one": "one direction", "throughput-both": "both directions"}
    groups = [(f"{s}\n{dirs[f]}", s, f, "mb_per_s")
              for s, _ in SUITES for f in ("throughput-one", "throughput-both")]
    bars(axes[0], groups, metric_list, "MB/s (median, bar = min-max)", "Relay throughput (higher is better)")
    groups = [(s, s, "handshakes", "sessions_per_s") for s, _ in SUITES]
    bars(axes[1], groups, metric_list, "sessions/s", "New sessions per second (higher is better)")
    axes[0].legend(fontsize=8)
    fig.suptitle("zoneproxy vs TLS->TLS forwarders, 2 cores, loopback", fontsize=11)
    fig.tight_layout()
    fig.savefig(os.path.join(plot_dir, "throughput.png"), dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, (s, suite) in zip(axes, SUITES):
        groups = [(lbl, s, "latency", m) for lbl, m in (("p50", "p50_us"), ("p99", "p99_us"), ("p99.9", "p999_us"))]
        bars(ax, groups, metric_list, "us (median of rounds, log)", f"Echo latency, {suite} (lower is better)", log=True)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(plot_dir, "latency.png"), dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    groups = [(s, s, "idle", "rss_per_session_kib") for s, _ in SUITES]
    bars(ax, groups, metric_list, "KiB RSS per idle session / forwarded connection",
         "Idle memory per session (lower is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(plot_dir, "memory.png"), dpi=100)
    plt.close(fig)


def values(runs, suite_tag, figure, metric, target):
    out = []
    for (s, f, p), by in runs.items():
        if s == suite_tag and f == figure and (target == "zoneproxy" or p == target):
            out += [d["metrics"][metric] for d in by.get(target, []) if metric in d.get("metrics", {})]
    return out


def section(runs, results_dir):
    out = ["<!-- comparison:begin -->",
           "<!-- generated by bench/report/report.py from bench/results/*.json; edit the script, not this -->", ""]
    params = {}
    for by in runs.values():
        for docs in by.values():
            for d in docs:
                p = {k: v for k, v in d.get("params", {}).items() if k != "proxy_pids"}
                params.setdefault(d["compare"]["figure"], p)
    all_verdicts = []
    for suite_tag, suite in SUITES:
        lines, verdicts = suite_table(runs, suite_tag, suite)
        out += lines + [""]
        all_verdicts += verdicts
    out += ["Targets at a glance (ratio against the best peer on that figure, same suite, paired rounds):", "",
            "| suite | target | ratio | result |", "|---|---|---:|---|"]
    for suite, label, ratio, tgt, ok in all_verdicts:
        out.append(f"| {suite} | {label} {tgt} | {f'{ratio:.2f}x' if ratio is not None else ''} | "
                   f"{'met' if ok else '**missed**'} |")
    out += [""] + paired_table(runs) + [""]
    out += ["Harness parameters per figure (from the JSON):", ""]
    for figure in sorted(params):
        out.append(f"- `{figure}`: `{json.dumps(params[figure], sort_keys=True)}`")
    out += ["", "![throughput](throughput.png)", "", "![latency](latency.png)", "", "![memory](memory.png)", "",
            "<!-- comparison:end -->"]
    return "\n".join(out)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    bench = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", default=os.path.join(bench, "results"))
    ap.add_argument("--markdown", default=os.path.join(bench, "RESULTS.md"))
    ap.add_argument("--plots", default=bench)
    ap.add_argument("--no-plots", action="store_true")
    a = ap.parse_args()
    runs = load(a.results)
    if not runs:
        sys.exit(f"report: error: no compare.sh results in {a.results}")
    text = section(runs, a.results)
    with open(a.markdown) as f:
        md = f.read()
    begin, end = "<!-- comparison:begin -->", "<!-- comparison:end -->"
    if begin in md and end in md:
        md = md[:md.index(begin)] + text + md[md.index(end) + len(end):]
    else:
        md = md.rstrip("\n") + "\n\n## Comparison with HAProxy, stunnel and nginx (issue 7)\n\n" + text + "\n"
    with open(a.markdown, "w") as f:
        f.write(md)
    if not a.no_plots:
        plots(runs, a.plots)
    print(f"report: {a.markdown} updated from {sum(len(d) for b in runs.values() for d in b.values())} runs"
          + ("" if a.no_plots else f"; plots in {a.plots}"))


if __name__ == "__main__":
    main()
