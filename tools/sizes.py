#!/usr/bin/env python3
"""sizes.py [MAX_FILE_LINES [MAX_FUNCTION_LINES]] — the source files and top-level functions of src/ and
tools/ over the size limits of docs/design.md (defaults 400 and 80 lines).

A top-level block starts at a line that begins in column 0 (a signature, a class, a struct) and ends at the
next line that begins with '}'; classes and structs are counted whole (their methods are not counted
apart). A report, not a test: docs/design.md lists the exceptions and why.
"""
import os
import sys

ROOTS = ("src", "tools")


def blocks(lines):
    start = None
    for i, line in enumerate(lines):
        if not line.strip() or line.startswith(("//", "#", "namespace")):
            if line.startswith("}  // namespace"):
                start = None
            continue
        if line.startswith("}"):
            if start is not None:
                yield start, i
            start = None
            continue
        if not line[0].isspace() and start is None:
            start = i
        if not line[0].isspace() and line.rstrip().endswith((";", "}")) and start == i:
            start = None  # a declaration, or a one-line definition


def main(argv):
    max_file = int(argv[1]) if len(argv) > 1 else 400
    max_fn = int(argv[2]) if len(argv) > 2 else 80
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    for top in ROOTS:
        for d, _, files in sorted(os.walk(os.path.join(root, top))):
            for f in sorted(files):
                if not f.endswith((".cpp", ".h")):
                    continue
                path = os.path.join(d, f)
                rel = os.path.relpath(path, root)
                lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
                if len(lines) - 1 > max_file:
                    print(f"{rel}: {len(lines) - 1} lines")
                for a, b in blocks(lines):
                    if b - a + 1 > max_fn:
                        print(f"{rel}:{a + 1}: {b - a + 1} lines: {lines[a][:70]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
