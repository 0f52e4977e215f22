#!/usr/bin/env python3
"""Validates the Grafana dashboard and the alert rules against PromQL and against what the
proxy exports: every dashboard query must parse (promtool check rules, each as a
recording rule) and every metric a query or an alert names must be in the list of names a
real scrape exposed (NAMES, one per line), or be Prometheus' own `up`.
Usage: check-dashboard.py DASHBOARD.json RULES.yml NAMES.txt
"""
import json
import os
import re
import subprocess
import sys
import tempfile

FUNCTIONS = {"sum", "by", "rate", "absent", "changes", "histogram_quantile", "max", "min", "avg", "time", "le", "count", "without",
             "irate", "increase", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
             "label_values"}


def main():
    dash = json.load(open(sys.argv[1]))
    exported = set(open(sys.argv[3]).read().split()) | {"up"}
    exprs = []
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            exprs.append((panel["title"], target["expr"]))
    alert_exprs = [("alert " + m.group(1), m.group(2))
                   for m in re.finditer(r"- alert: (\S+)\n\s+expr: (.*)", open(sys.argv[2]).read())]
    problems = []
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as rules:
        rules.write("groups:\n  - name: dashboard\n    rules:\n")
        for i, (_, expr) in enumerate(exprs):
            # Grafana variables are not PromQL: give them a value for the parse.
            concrete = expr.replace("$instance", ".*").replace("${datasource}", "x")
            rules.write(f"      - record: dashboard:q{i}\n        expr: {json.dumps(concrete)}\n")
    check = subprocess.run(["promtool", "check", "rules", rules.name], capture_output=True, text=True)
    os.unlink(rules.name)
    if check.returncode != 0:
        problems.append("promtool: " + check.stdout + check.stderr)
    for title, expr in exprs + alert_exprs:
        stripped = re.sub(r'"[^"]*"', '""', expr)  # label values are not names
        stripped = re.sub(r"\{[^}]*\}", "", stripped)
        stripped = re.sub(r"\[[^\]]*\]", "", stripped)
        for name in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", stripped):
            if name in FUNCTIONS or re.fullmatch(r"[0-9.e]+", name):
                continue
            if name.startswith(("instance", "role", "listener", "reason", "direction", "suite", "use", "subject",
                                "state", "version", "revision", "openssl")):
                continue
            if name not in exported:
                problems.append(f"panel {title!r}: {name} is not exported by zoneproxy")
    for p in problems:
        print("check-dashboard: " + p, file=sys.stderr)
    print(f"check-dashboard: {len(exprs)} queries, {len(alert_exprs)} alerts, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
