"""Shell completion through typer's own --show-completion/--install-completion (click's completion
protocol: the shell calls egdoctor with _EGDOCTOR_COMPLETE set and the words typed so far).

A user's shell is detected (shellingham); here typer's own switch
_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION makes both options take the shell's name instead
(typer/completion.py), so each shell is tested whatever shell runs the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

NAMED_SHELL = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_prints_the_script(shell: str) -> None:
    result = run_cli("--show-completion", shell, env=NAMED_SHELL)
    assert result.exit_code == 0, result.stderr
    assert f"_EGDOCTOR_COMPLETE=complete_{shell}" in result.stdout


def test_commands_and_options_complete() -> None:
    def complete(words: str, cword: int) -> list[str]:
        env = {"_EGDOCTOR_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        result = run_cli(env=env)
        assert result.exit_code == 0, result.stderr
        return result.stdout.split()

    assert {"check", "checks", "collect"} <= set(complete("egdoctor c", 1))
    assert "--from-bundle" in complete("egdoctor check --from-b", 2)
    assert "--with-file" in complete("egdoctor check --with", 2)
    assert complete("egdoctor check -o ", 3) == ["text", "json", "yaml", "junit", "sarif", "markdown"]


def test_install_completion_writes_to_the_shell_startup_file(tmp_path: Path) -> None:
    result = run_cli("--install-completion", "bash", env={**NAMED_SHELL, "HOME": str(tmp_path)})
    assert result.exit_code == 0, result.stderr
    assert "_EGDOCTOR_COMPLETE" in (tmp_path / ".bash_completions" / "egdoctor.sh").read_text()
    assert "egdoctor.sh" in (tmp_path / ".bashrc").read_text()
