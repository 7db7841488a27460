"""Shared fixtures: the shipped model is built once per test session."""
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PGMPY_SHOW_PROGRESS", "0")


@pytest.fixture(scope="session")
def model():
    from model import load_model
    return load_model()


@pytest.fixture(scope="module")
def network():
    """The pgmpy network built from the knowledge base alone (no triage or advice)."""
    from model.knowledge import load_knowledge
    from model.network import build_network
    return build_network(load_knowledge())


@pytest.fixture(scope="module")
def engine(network):
    """A fresh engine per test module (its caches and switches are the module's own)."""
    from model.engine import Engine
    return Engine(network)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return ROOT / "data"


@pytest.fixture()
def data_copy(tmp_path, data_dir) -> Path:
    """A scratch copy of the knowledge files, for tests that break one on purpose."""
    for f in data_dir.glob("*.yaml"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


@pytest.fixture()
def corrupt():
    """``corrupt(folder, name, old, new)``: break one knowledge file on purpose."""
    def _corrupt(folder: Path, name: str, old: str, new: str) -> None:
        path = folder / name
        text = path.read_text()
        assert old in text, f"test setup: {old!r} not in {name}"
        path.write_text(text.replace(old, new, 1))
    return _corrupt


@pytest.fixture(scope="module")
def reference_engine(network):
    """An engine restricted to the cause enumeration and the junction tree: the reference the
    mixture kernel's tests compare with."""
    from model.engine import Engine
    return Engine(network, backends=("enumeration", "junction_tree"))


@pytest.fixture(scope="module")
def reference_model():
    """The shipped model on an engine without the mixture kernel (the cause enumeration and the
    junction tree): what the kernel's fast paths are compared with."""
    from model.api import Model
    from model.knowledge import load_knowledge
    return Model(load_knowledge(), backends=("enumeration", "junction_tree"))


@pytest.fixture(scope="module")
def tree_engine_only(network):
    """An engine restricted to the general junction tree."""
    from model.engine import Engine
    return Engine(network, backends=("junction_tree",))


@pytest.fixture(scope="session")
def diagnose_or_refuse():
    """``diagnose_or_refuse(model, answers, explains)``: diagnose ``answers`` and check that the
    result is sound (a triage level; conditions, pain and cause probabilities finite and within
    [0, 1]), or, where diagnose refuses them, that the ValueError's message is one that
    ``explains(message)`` accepts. The property tests of the public and the hostile API share it."""
    import numpy as np

    levels = {"urgent_care", "see_clinician_soon", "self_care"}

    def _diagnose_or_refuse(model, answers, explains):
        try:
            d = model.diagnose(answers)
        except ValueError as err:
            assert explains(str(err)), str(err)
            return None
        assert d.triage.level in levels
        conditions = d.conditions.to_numpy(dtype=float)
        assert np.isfinite(conditions).all() and ((conditions >= 0) & (conditions <= 1)).all()
        assert 0.0 <= d.pain_probability <= 1.0  # False for NaN too
        assert np.isfinite(d.causes[["posterior", "contribution"]].to_numpy(dtype=float)).all()
        return d
    return _diagnose_or_refuse
