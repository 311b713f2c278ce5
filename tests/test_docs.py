"""Every finding code has exactly one documentation page, and `egdoctor explain` shows it."""

from __future__ import annotations

import re

import pytest

from egdoctor.checks.registry import all_checks
from egdoctor.findings.codes import REGISTRY
from tests.conftest import ROOT, run_cli

DOCS = ROOT / "docs" / "codes"


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_every_code_has_a_page_with_the_required_sections(code: str) -> None:
    page = (DOCS / f"{code}.md").read_text(encoding="utf-8")
    assert page.startswith(f"# {code}: ")
    for section in ("## What it means", "## Why it matters", "## Example", "## How to fix"):
        assert section in page, f"{code}.md lacks {section}"
    assert f"**{REGISTRY[code].severity.value}**" in page, f"{code}.md names another severity"


def test_no_page_without_a_code() -> None:
    pages = {p.stem for p in DOCS.glob("EGD*.md")}
    assert pages == set(REGISTRY)


def test_every_registered_check_reports_only_registered_codes() -> None:
    for spec in all_checks().values():
        assert spec.codes and set(spec.codes) <= set(REGISTRY), spec.id
        assert spec.inputs, f"check {spec.id} declares no input"


def test_explain_prints_the_page() -> None:
    result = run_cli("explain", "egd304")
    assert result.exit_code == 0
    # rendered for the terminal: the heading's words, not its Markdown
    assert re.search(r"^\s*EGD304: CTP expects PROXY", result.stdout, re.M)
    assert not re.search(r"^#", result.stdout, re.M)
    assert run_cli("explain", "EGD999").exit_code == 2
