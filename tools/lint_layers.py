#!/usr/bin/env python3
"""lint_layers.py [ROOT] | --self-test — oess's layering, enforced (docs/design.md, "Layers").

Every header under include/oess/<area>/ and every source under src/<area>/ may include headers of its own
area and of the areas below it, never of an area above it or beside it (same rank). An area missing from
the table, or an include that climbs out of its folder ("../"), is an error too. Exit 1 listing every
offending line as FILE:LINE: ...; exit 0 when the tree is clean.

--self-test builds a small tree with a deliberately wrong include (data including experiment) and checks
that it is caught, and that the same tree without it passes.
"""
import os
import re
import sys
import tempfile

# THE table: areas bottom to top. An area may include only areas of a lower rank (and itself).
LAYERS = [
    ["core"],
    ["platform", "runtime"],
    ["io", "config"],
    ["data"],
    ["models", "reading"],
    ["features"],
    ["metrics", "calibration"],
    ["baseline", "train", "finetune"],
    ["ensemble"],
    ["report"],
    ["settings"],
    ["export"],
    ["experiment"],
    ["cli"],
]
RANK = {area: rank for rank, areas in enumerate(LAYERS) for area in areas}
TOP_LEVEL_HEADERS = {"version.h": 0}  # include/oess/version.h (generated): part of core

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def area_of_include(target):
    """'oess/data/image.h' -> 'data'; 'oess/version.h' -> 'core'; other quoted includes -> None."""
    parts = target.split("/")
    if parts[0] != "oess":
        return None
    if len(parts) == 2:
        return "core" if parts[1] in TOP_LEVEL_HEADERS else "?" + parts[1]
    return parts[1]


def check(root):
    problems = []
    for top in ("include/oess", "src"):
        base = os.path.join(root, top)
        if not os.path.isdir(base):
            continue
        for area in sorted(os.listdir(base)):
            folder = os.path.join(base, area)
            if not os.path.isdir(folder):
                continue
            if area not in RANK:
                problems.append(f"{top}/{area}/: area '{area}' is not in the layer table (tools/lint_layers.py)")
                continue
            for d, _, files in os.walk(folder):
                for f in sorted(files):
                    if not f.endswith((".h", ".cpp")):
                        continue
                    path = os.path.join(d, f)
                    rel = os.path.relpath(path, root)
                    with open(path, encoding="utf-8", errors="replace") as fh:
                        for n, line in enumerate(fh, 1):
                            m = INCLUDE.match(line)
                            if not m:
                                continue
                            target = m.group(1)
                            if "../" in target:
                                problems.append(f"{rel}:{n}: \"{target}\" climbs out of its folder")
                                continue
                            other = area_of_include(target)
                            if other is None or other == area:
                                continue
                            if other not in RANK:
                                problems.append(f"{rel}:{n}: \"{target}\": unknown area '{other}'")
                            elif RANK[other] >= RANK[area]:
                                how = "beside" if RANK[other] == RANK[area] else "above"
                                problems.append(
                                    f"{rel}:{n}: {area} includes \"{target}\" of {other}, which sits {how} it "
                                    f"(layers: {' -> '.join('/'.join(a) for a in LAYERS)})")
    return problems


def self_test():
    with tempfile.TemporaryDirectory() as root:
        def write(rel, text):
            p = os.path.join(root, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as fh:
                fh.write(text)
        write("include/oess/core/error.h", "#pragma once\n")
        write("include/oess/data/image.h", '#pragma once\n#include "oess/core/error.h"\n')
        write("src/experiment/chain.cpp", '#include "oess/data/image.h"\n#include "oess/version.h"\n')
        clean = check(root)
        assert clean == [], f"a clean tree was rejected: {clean}"
        # The deliberately wrong include: data (low) reaching up to experiment (high).
        write("src/data/loader.cpp", '#include "oess/data/image.h"\n#include "oess/experiment/chain.h"\n')
        wrong = check(root)
        assert len(wrong) == 1 and "src/data/loader.cpp:2: data includes \"oess/experiment/chain.h\"" in wrong[0] \
            and "above" in wrong[0], f"the wrong include was not caught as expected: {wrong}"
        # Beside: two areas of the same rank may not include each other.
        write("src/train/x.cpp", '#include "oess/baseline/baseline.h"\n')
        assert any("beside" in p for p in check(root)), "an include between areas of one rank was not caught"
        # An area nobody put in the table.
        write("src/newarea/y.cpp", "\n")
        assert any("not in the layer table" in p for p in check(root)), "an unknown area was not caught"
    print("lint_layers self-test: a wrong include, a same-rank include and an unknown area are caught; "
          "a clean tree passes")
    return 0


def main(argv):
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"lint_layers: {len(problems)} include(s) against the layering (docs/design.md, \"Layers\")")
        return 1
    print(f"lint_layers: every include of include/oess and src follows the layers ({len(LAYERS)} ranks)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
