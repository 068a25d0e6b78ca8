"""One namespace: the wheel installs ``clinfair`` and nothing else at the top level.

The repository's folders ``tasks/``, ``benchmark/``, ``trainers/`` and ``leaderboard/`` install
as ``clinfair.tasks`` ... (pyproject's ``package-dir``). A top-level ``tasks`` package would be
shadowed by, or shadow, any user's own ``tasks/`` folder. This test builds the wheel, installs
it into a fresh virtual environment (the project's dependencies are reached through a ``.pth``
file, so nothing is downloaded) and uses it from a folder that holds a ``tasks`` package of its own.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPPED = ("tasks", "benchmark", "trainers", "leaderboard")
DATA_SUFFIXES = {".py", ".yaml", ".jinja", ".json", ".html", ".css", ".js", ".md", ".txt"}


def _run(*argv, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd, check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        out,
        ROOT,
        cwd=out,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (path,) = out.glob("clinfair-*.whl")
    return path


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    assert _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=venv).returncode == 0
    site = Path(
        _run(
            venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=venv
        ).stdout.strip()
    )
    # The dependencies come from this environment's site-packages. A path line in a .pth file is only
    # added to sys.path: that folder's own .pth files (this checkout's editable install) are not run.
    site_folders = [path for path in sys.path if path.endswith("site-packages")]
    (site / "dependencies.pth").write_text("\n".join(site_folders) + "\n")
    installed = _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        venv / "bin" / "python",
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        wheel,
        cwd=venv,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


def test_wheel_holds_every_file_under_clinfair(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"clinfair"}
    expected = set()
    for folder, prefix in [("clinfair", "clinfair"), *((name, f"clinfair/{name}") for name in MAPPED)]:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in DATA_SUFFIXES and "__pycache__" not in path.parts:
                expected.add(f"{prefix}/{path.relative_to(ROOT / folder).as_posix()}")
    assert expected - set(names) == set(), "pyproject's package list misses these files"


def test_fresh_install_has_one_namespace_and_a_working_cli(fresh_venv, tmp_path):
    # A research repository's own `tasks` and `benchmark` packages, where the user works.
    for name in ("tasks", "benchmark"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('the user\\'s own package')\n")
    python = fresh_venv / "bin" / "python"
    probe = (
        "import importlib.util, sys; sys.path.remove(sys.path[0]) if sys.path[0] in ('', '.') else None\n"
        f"print([n for n in {MAPPED!r} if importlib.util.find_spec(n)])"
    )
    found = _run(python, "-I", "-c", probe, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "[]"
    imported = _run(python, "-c", "import clinfair.tasks.registry as r; print(r.__file__)", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert str(fresh_venv) in imported.stdout
    # `python -m clinfair.cli` puts the working folder first on sys.path, as the README's accelerate line does.
    for argv in (
        [fresh_venv / "bin" / "clinfair", "--help"],
        [python, "-m", "clinfair.cli", "tasks", "list"],
    ):
        result = _run(*argv, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
    assert "synthetic" in _run(python, "-m", "clinfair.cli", "tasks", "list", cwd=tmp_path).stdout
