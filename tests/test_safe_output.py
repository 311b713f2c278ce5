"""The sanitiser for terminal text, JSON that is always valid, and JSON parsing that survives nesting."""

from __future__ import annotations

import datetime
import io
import json
import math
from typing import Any

import pytest
from rich.text import Text

from egdoctor.report import terminal
from egdoctor.report.json_safe import json_safe
from egdoctor.report.safe_text import LINE_LIMIT, clean, clean_line, markup
from egdoctor.report.text import plain, t
from egdoctor.snapshot import bounded_json
from egdoctor.snapshot.assemble import assemble
from egdoctor.snapshot.model import Source


def test_control_characters_are_shown_escaped() -> None:
    assert clean("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert clean("x\r\ny\a\x7f\x9b\x00") == "x\\x0d\\x0ay\\x07\\x7f\\x9b\\x00"
    assert clean("\u202egnp.exe") == "\\u202egnp.exe"
    assert clean("tab\there") == "tab\\x09here"
    assert clean("ünïcødé ✓ fine") == "ünïcødé ✓ fine"


def test_long_values_are_cut_with_an_ellipsis() -> None:
    assert clean("A" * 1000, 10) == "A" * 9 + "…"
    assert len(clean("\x1b" * 1000, 50)) == 50
    assert len(clean_line("x" * 10_000)) == LINE_LIMIT


def test_markup_escapes_rich_tags_after_cleaning() -> None:
    assert markup("[bold]x[/]") == "\\[bold]x\\[/]"


def test_the_text_report_door_applies_the_sanitiser() -> None:
    assert t("[red]x\x1b[2J") == "\\[red]x\\x1b[2J"
    assert plain("ok\r\n✓ all good") == "ok\\x0d\\x0a✓ all good"
    assert plain("A" * 1000) == "A" * 299 + "…"
    assert len(plain("A" * 5000, 1000)) == 1000


def test_a_line_that_bypassed_the_door_is_still_cleaned_before_the_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def lines(report: Any, width: int, show_all: bool = False) -> list[list[Text]]:
        return [[Text("fine"), Text("raw \x1b]0;title\x07 text", style="bold")]]

    monkeypatch.setattr(terminal, "build_lines", lines)
    out = io.StringIO()
    terminal.render_terminal(None, out=out, width=80)  # type: ignore[arg-type]
    printed = out.getvalue()
    assert printed.startswith("fine\nraw \\x1b]0;title"), printed
    assert not any(ord(c) < 0x20 and c != "\n" for c in printed), printed


def test_json_safe_keeps_json_valid_and_faithful() -> None:
    value = {
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
        "when": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2024, 1, 2),
        "esc": "\x1b[2J",
        1: (1, 2.5),
    }
    out = json.dumps(json_safe(value), allow_nan=False)
    back = json.loads(out)
    assert back == {
        "nan": "NaN",
        "inf": "Infinity",
        "ninf": "-Infinity",
        "when": "2024-01-01T00:00:00+00:00",
        "day": "2024-01-02",
        "esc": "\x1b[2J",
        "1": [1, 2.5],
    }


def test_bounded_json_parses_what_json_loads_cannot() -> None:
    deep = '{"x":' * 5000 + '"]}\\""' + "}" * 5000
    text = '{"items":[' + deep + ',{"name":"ok","s":"[{"}]}'
    body = bounded_json.loads(text)
    assert body["items"][1] == {"name": "ok", "s": "[{"}
    assert json.dumps(body)  # the clipped document is an ordinary, shallow enough structure


def test_a_clipped_object_is_reported_malformed_not_kept() -> None:
    deep = '{"config":' * 3000 + "1" + "}" * 3000
    item = (
        '{"apiVersion":"cert-manager.io/v1","kind":"Issuer","metadata":{"name":"deep","namespace":"a"},"spec":'
        + deep
        + "}"
    )
    ok = json.dumps(
        {"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "ok", "namespace": "a"}}
    )
    body = bounded_json.loads('{"items":[' + item + "," + ok + "]}")
    snap = assemble({"Issuer": body["items"]}, None, Source("cluster"))
    assert [o.name for o in snap.of("Issuer")] == ["ok"]
    assert [(m.subject.name, m.reason) for m in snap.malformed] == [
        ("deep", "nested more than 100 levels deep")
    ]
