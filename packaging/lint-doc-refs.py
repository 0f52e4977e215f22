#!/usr/bin/env python3
"""Fails when a comment cites a section of ARCHITECTURE.md or README.md that the file in
this repository does not have (a section of the shared design notes, a renamed one).

A citation is `ARCHITECTURE.md "Section"` or `README "Section"`, possibly broken over
two comment lines; the section is a Markdown heading of that file, compared without
its leading #s, or a paragraph's bold run-in title."""
import pathlib
import re
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent
docs = {"ARCHITECTURE.md": root / "ARCHITECTURE.md", "README": root / "README.md", "README.md": root / "README.md"}
headings = {}
for name, path in docs.items():
    text = path.read_text()
    headings[name] = {re.sub(r"^#+\s*", "", l).strip() for l in text.splitlines() if l.startswith("#")}
    # A paragraph that opens with a bold run-in title ("**Verifying the proxy.** ...").
    headings[name] |= set(re.findall(r"^\*\*([^*]+?)\.?\*\*", text, re.M))

files = subprocess.run(["git", "ls-files", "*.cpp", "*.hpp"], cwd=root, capture_output=True, text=True).stdout.split()
cite = re.compile(r'(ARCHITECTURE\.md|README(?:\.md)?) "([^"]+)"')
problems = 0
for f in files:
    text = (root / f).read_text()
    # Join comment lines so a citation broken over two lines reads as one.
    joined = re.sub(r"\n\s*//\s?", " ", text)
    for m in cite.finditer(joined):
        doc, section = m.group(1), re.sub(r"\s+", " ", m.group(2)).strip()
        if section not in headings[doc]:
            print(f"{f}: cites {doc} \"{section}\", which {docs[doc].name} has no heading for")
            problems += 1
print(f"lint-doc-refs: {len(files)} files, {problems} problems")
sys.exit(1 if problems else 0)
