"""The top-level ``selfrat`` command: Ctrl-C is one line and exit code 130, not a traceback."""

from __future__ import annotations

import argparse

import pytest

from selfrat_eval import cli


def test_ctrl_c_prints_one_line_and_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import selfrat_eval.training.cli as train_cli

    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(train_cli, "run", interrupted)
    assert cli.main(["train", "--config", "x.yaml"]) == 130
    err = capsys.readouterr().err
    assert err == "selfrat: interrupted; re-run the same command to resume\n"


def test_ctrl_c_while_importing_a_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def slow_import(argv: list[str]) -> argparse.ArgumentParser:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", slow_import)
    assert cli.main(["evaluate"]) == 130
    assert "Traceback" not in capsys.readouterr().err
