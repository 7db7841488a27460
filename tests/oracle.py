"""pgmpy VariableElimination as the test oracle, one variable at a time (shared by the engine
and enumeration tests)."""
import warnings

import numpy as np
import pytest

pgmpy_inference = pytest.importorskip("pgmpy.inference")
from pgmpy.factors.discrete import TabularCPD  # noqa: E402

TOL = 1e-9


def oracle(network, variable, hard, soft):
    """P(variable | evidence) from a fresh pgmpy VariableElimination (virtual evidence mutates it)."""
    ve = pgmpy_inference.VariableElimination(network)
    virtual = []
    for var, vec in soft.items():
        w = np.asarray(vec, dtype=float)
        # pgmpy wants each entry in [0, 1]; a likelihood is defined up to scale
        virtual.append(TabularCPD(var, len(w), (w / w.sum()).reshape(-1, 1),
                                  state_names={var: list(network.get_cpds(var).state_names[var])}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ve.query([variable], evidence=hard or None, virtual_evidence=virtual or None,
                       show_progress=False)
    states = network.get_cpds(variable).state_names[variable]
    return np.array([res.get_value(**{variable: s}) for s in states])
