"""Leg pain after running: an evidence-based Bayesian diagnosis model.

>>> from model import load_model
>>> m = load_model()
>>> d = m.diagnose({"pain_location": "shin", "tenderness": "pinpoint_bone"})
"""
import warnings as _warnings

with _warnings.catch_warnings():
    # pgmpy imports tqdm.auto, which warns "IProgress not found" in Jupyter without
    # ipywidgets, in the first cell of every notebook; progress bars are not used here
    _warnings.filterwarnings("ignore", message="IProgress not found")
    import pgmpy.models  # noqa: F401

from ._yaml import KnowledgeError  # noqa: E402
from .api import Model, load_model  # noqa: E402
from .diagnosis import Diagnosis  # noqa: E402

__all__ = ["load_model", "Model", "Diagnosis", "KnowledgeError"]
