"""Per-module mutation score from `mutmut results --all true` on standard input."""

import collections
import sys

counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
for line in sys.stdin:
    name, _, status = line.strip().rpartition(": ")
    if name:
        counts[name.split("__mutmut_")[0].rsplit(".x", 1)[0].split(".x\u01c1")[0]][status] += 1
print(f"{'module':36} {'killed':>7} {'survived':>9} {'other':>6} {'score':>6}")
for module, c in sorted(counts.items()):
    judged = c["killed"] + c["survived"]
    other = sum(c.values()) - judged
    print(f"{module:36} {c['killed']:7} {c['survived']:9} {other:6} {c['killed'] / max(judged, 1):6.0%}")
print("survivors: .venv/bin/mutmut results; one of them: .venv/bin/mutmut show NAME")
