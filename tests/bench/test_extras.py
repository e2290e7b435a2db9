"""`voicewire bench SUITE` on a plain install: a missing extra is named, not an ImportError."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from voicewire.bench.__main__ import main as bench_main
from voicewire.cli import app

HINT = "Install it with: pip install 'voicewire[bench]'"
SUITES = [("concurrency", "psutil"), ("idle", "psutil"), ("plots", "matplotlib")]


def uninstall(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    """Make `package` unimportable, and the suites import afresh (restored after the test)."""
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, package, None)  # None: "import halted", ImportError
    # Every bench module imports afresh, the suites' shared helpers too (bench.serverproc):
    # one imported by an earlier test would otherwise hold the real package.
    for name in [n for n in sys.modules if n.startswith("voicewire.bench.")]:
        if name != "voicewire.bench.__main__":
            monkeypatch.delitem(sys.modules, name)


@pytest.mark.parametrize(("suite", "package"), SUITES)
def test_voicewire_bench_says_which_extra_a_suite_needs(
    monkeypatch: pytest.MonkeyPatch, suite: str, package: str
) -> None:
    uninstall(monkeypatch, package)
    result = CliRunner().invoke(app, ["bench", suite])
    assert result.exit_code == 2
    assert f"needs '{package}'. {HINT}" in result.output
    assert not isinstance(result.exception, ImportError)


@pytest.mark.parametrize(("suite", "package"), [*SUITES, ("report", "psutil")])
def test_python_m_voicewire_bench_says_which_extra_a_suite_needs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], suite: str, package: str
) -> None:
    uninstall(monkeypatch, package)
    assert bench_main([suite, "."]) == 2
    assert f"needs '{package}'. {HINT}" in capsys.readouterr().err


def test_a_suite_that_needs_no_extra_still_runs_without_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    uninstall(monkeypatch, "psutil")
    uninstall(monkeypatch, "matplotlib")
    assert bench_main(["fuzz", "--inputs", "50"]) == 0
