"""`-o FORMAT`: which renderer writes the report. Every machine format writes only its document on stdout
(egdoctor's own messages go to stderr), also when there is nothing to report."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from egdoctor.report.document import Document, document, unavailable_document
from egdoctor.report.view import Report

FORMATS = ("text", "json", "yaml", "junit", "sarif", "markdown")


def _renderer(fmt: str) -> Callable[[Document], None]:
    if fmt == "yaml":
        from egdoctor.report.yaml_out import render_yaml

        return render_yaml
    if fmt == "junit":
        from egdoctor.report.junit_out import render_junit

        return render_junit
    if fmt == "sarif":
        from egdoctor.report.sarif_out import render_sarif

        return render_sarif
    if fmt == "markdown":
        from egdoctor.report.markdown_out import render_markdown

        return render_markdown
    raise ValueError(f"unknown output format {fmt!r}")


def render(report: Report, fmt: str, color: bool | None = None, show_all: bool = False) -> None:
    """`show_all`: the text report lists healthy objects too, also when it would not fit a screen."""
    if fmt == "text":
        from egdoctor.report.terminal import render_terminal

        if color is None and os.environ.get("NO_COLOR"):
            color = False
        render_terminal(report, color=color, show_all=show_all)
    elif fmt == "json":
        from egdoctor.report.json_out import render_json

        render_json(report)
    else:
        _renderer(fmt)(document(report))


def render_unavailable(data: Mapping[str, Any], message: str, fmt: str) -> None:
    """The report of a run that could not use the API server; text says it on stderr only."""
    if fmt == "text":
        return
    if fmt == "json":
        from egdoctor.report.json_out import write_json

        write_json(data)
    else:
        _renderer(fmt)(unavailable_document(data, message))
