"""Leg pain after running: an evidence-based Bayesian diagnosis model.

>>> from model import load_model
>>> m = load_model()
>>> d = m.diagnose({"pain_location": "shin", "tenderness": "pinpoint_bone"})
"""
from ._yaml import KnowledgeError
from .api import Model, load_model
from .diagnosis import Diagnosis

__all__ = ["load_model", "Model", "Diagnosis", "KnowledgeError"]
