"""The project as a package: pins in one place, a wheel that carries the knowledge base, and
an install that works from any directory (even one holding a user's own ``model.py``)."""
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirement_lines(name):
    lines = [line.strip() for line in (ROOT / name).read_text().splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "-r"))]


def test_requirement_files_repeat_pyproject():
    assert requirement_lines("requirements.txt") == PROJECT["dependencies"]
    assert requirement_lines("requirements-dev.txt") == PROJECT["optional-dependencies"]["dev"]


def test_every_imported_distribution_is_declared():
    declared = " ".join(PROJECT["dependencies"]).lower()
    # what model/ and app.py import (numba: the engine's compiled kernels)
    for name in ("pgmpy", "numpy", "pandas", "networkx", "pyyaml", "streamlit", "altair",
                 "pyarrow", "tqdm"):
        assert name in declared, name
    # width= arguments: TypeError before 1.51; st.expander(key=) 1.55; AppTest.segmented_control
    assert "streamlit>=1.57" in declared


def test_minimum_pins_are_the_lower_bounds_of_every_runtime_dependency():
    """.ci/constraints-min.txt (what .ci/min-versions tests) pins exactly pyproject's floors."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    pins = {}
    for line in requirement_lines(".ci/constraints-min.txt"):
        name, _, pin = line.partition("==")
        pins[name.strip().lower()] = Version(pin.strip())
    floors = {}
    for dependency in PROJECT["dependencies"]:
        requirement = Requirement(dependency)
        lower = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        assert len(lower) == 1, f"{dependency}: one lower bound expected"
        assert pins.get(requirement.name.lower()) in requirement.specifier, dependency
        floors[requirement.name.lower()] = lower[0]
    assert pins == floors


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The package installed from the source tree into a fresh target directory, as
    ``pip install .`` does (built by setuptools from pyproject.toml; dependencies are the
    test environment's own)."""
    target = tmp_path_factory.mktemp("site")
    source = source_copy(tmp_path_factory)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.fail(f"pip install . failed:\n{result.stdout}\n{result.stderr}")
    return target


def source_copy(tmp_path_factory):
    """A copy of the source tree, so that a build leaves nothing behind in the working tree."""
    source = tmp_path_factory.mktemp("src") / "checkout"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".venv-min", ".git", "build", "*.egg-info", "__pycache__", ".hypothesis",
        "bench"))
    return source


def run_elsewhere(code, site, cwd):
    env = dict(os.environ, PYTHONPATH=str(site), PYTHONNOUSERSITE="1")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_installed_package_finds_its_knowledge_base_from_another_directory(installed,
                                                                          tmp_path):
    assert (installed / "model" / "data" / "causes.yaml").is_file()
    assert (installed / "model" / "data" / "cases.csv").is_file()
    result = run_elsewhere(
        "import model; from model import load_model; d = load_model().diagnose({});"
        "print(model.__file__); print(d.triage.level)", installed, tmp_path)
    assert result.returncode == 0, result.stderr
    where, level = result.stdout.split()
    assert Path(where).is_relative_to(installed)
    assert level in {"self_care", "see_clinician_soon", "urgent_care"}


def test_leg_pain_model_name_survives_a_users_own_model_py(installed, tmp_path):
    (tmp_path / "model.py").write_text("raise SystemExit('the user model.py was imported')\n")
    result = run_elsewhere(
        "from leg_pain_model import load_model; import leg_pain_model, pickle;"
        "m = load_model(); d = m.diagnose({'pain_location': 'calf'});"
        "print(leg_pain_model.__file__); print(type(pickle.loads(pickle.dumps(d))).__name__)",
        installed, tmp_path)
    assert result.returncode == 0, result.stderr
    where, kind = result.stdout.split()
    assert Path(where).is_relative_to(installed)
    assert kind == "Diagnosis"


def test_editable_install_in_a_new_virtual_environment_imports_the_checkout(tmp_path_factory,
                                                                         tmp_path):
    """``pip install -e .`` into a fresh virtual environment: from another directory, ``model``
    is the checkout's. The dependencies are the test environment's, appended to the new
    environment's path by a .pth line (after its own site-packages, so that the test
    environment's own editable install of this tree, if any, is not the one imported)."""
    source = source_copy(tmp_path_factory)
    venv = tmp_path_factory.mktemp("venv") / "editable"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=300)
    python = venv / "bin" / "python"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--disable-pip-version-check", "-e", str(source)],
        capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.fail(f"pip install -e . failed:\n{result.stdout}\n{result.stderr}")
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True,
                          timeout=300).stdout.strip()
    paths = sysconfig.get_paths()
    (Path(site) / "test_environment.pth").write_text(
        "\n".join(dict.fromkeys([paths["purelib"], paths["platlib"]])) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONNOUSERSITE"] = "1"
    result = subprocess.run(
        [str(python), "-c", "import model; from model import load_model;"
         "print(model.__file__); print(load_model().diagnose({}).triage.level)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    where, level = result.stdout.split()
    assert Path(where).is_relative_to(source)
    assert level in {"self_care", "see_clinician_soon", "urgent_care"}
