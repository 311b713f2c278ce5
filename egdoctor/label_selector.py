"""`-l/--selector`: kubectl's equality-based label selectors (`k=v`, `k==v`, `k!=v`, `k`, `!k`, joined
by commas, all of which must hold), used to choose the namespaces a report covers."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_TERM = re.compile(rf"\s*(?P<neg>!)?\s*(?P<key>{_KEY})\s*(?:(?P<op>==|!=|=)\s*(?P<value>{_VALUE}))?\s*")

Matcher = Callable[[Mapping[str, str]], bool]


def parse_selector(text: str) -> Matcher:
    """A predicate over labels; ValueError says which term is not understood."""
    terms: list[Matcher] = []
    for raw in text.split(","):
        m = _TERM.fullmatch(raw)
        if not raw.strip() or m is None or (m["neg"] and m["op"]):
            raise ValueError(
                f"-l {text!r}: cannot read {raw.strip()!r} (use key=value, key!=value, key or !key)"
            )
        terms.append(_term(m["key"], "!" if m["neg"] else m["op"], m["value"] or ""))
    return lambda labels: all(term(labels) for term in terms)


def _term(key: str, op: str | None, value: str) -> Matcher:
    def holds(labels: Mapping[str, str]) -> bool:
        if op == "!":
            return key not in labels
        if op is None:
            return key in labels
        if op == "!=":
            return labels.get(key) != value
        return labels.get(key) == value

    return holds
