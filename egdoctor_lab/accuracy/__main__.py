"""`scripts/accuracy [--eg VERSION] [--case NAME]... [--detail N]`: egdoctor against EG's verdicts."""

from __future__ import annotations

import argparse
import sys

from egdoctor_lab.eg.releases import release

from .cases import DataMissing, case_names, load_case, testdata_dir
from .measure import measure, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/accuracy", description=__doc__)
    parser.add_argument("--eg", default="newest", help="the pinned EG release (default: newest)")
    parser.add_argument("--case", action="append", default=[], help="only this case (repeatable)")
    parser.add_argument("--detail", type=int, default=3, help="objects listed per miss class")
    args = parser.parse_args(argv)
    version = release(args.eg).version
    try:
        directory = testdata_dir(version)
    except DataMissing as exc:
        print(f"accuracy: {exc}", file=sys.stderr)
        return 2
    known = case_names(directory)
    unknown = sorted(set(args.case) - set(known))
    if unknown:
        print(f"accuracy: no such case in {directory}: {', '.join(unknown)}", file=sys.stderr)
        return 2
    names = args.case or known
    score = measure(load_case(directory, name) for name in names)
    print(render(score, version, args.detail))
    return 0


if __name__ == "__main__":
    sys.exit(main())
