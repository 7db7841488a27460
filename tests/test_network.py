"""The pgmpy network: valid, every CPT traceable to sourced parameters, qualitative influences."""
import ast
from pathlib import Path

import numpy as np

from model.knowledge import GRADES
from model.network import STRUCTURAL, noisy_or_table, parents_of

ROOT = Path(__file__).resolve().parent.parent


def test_check_model_passes(model):
    assert model.network.check_model()
    assert set(model.network.nodes()) == set(model.kb.states)


def test_every_cpt_is_rebuilt_from_its_parameter_rows(model):
    rows = model.parameters
    parents = parents_of(model.kb)
    for cpd in model.network.get_cpds():
        node = cpd.variable
        assert list(cpd.variables[1:]) == parents[node]
        if node in {c.id for c in model.kb.causes}:
            prior = rows[(rows.node == node) & (rows.kind == "prior")]
            assert len(prior) == cpd.values.size, node
            continue
        rebuilt = noisy_or_table(rows, node, parents[node], model.kb.states)
        np.testing.assert_allclose(cpd.values, rebuilt, rtol=0, atol=1e-15, err_msg=node)


def test_every_parameter_has_a_source_and_a_grade(model):
    rows = model.parameters
    for row in rows.itertuples():
        if row.source == STRUCTURAL:
            assert row.grade == "structural" and row.value in (0.0, 1.0)
            continue
        assert isinstance(row.source, str) and len(row.source) > 10, row
        assert row.grade in GRADES, row
    # every cause -> condition link cites an effect size > 1
    links = rows[(rows.kind == "link") & rows.parent.isin([c.id for c in model.kb.causes])]
    assert len(links) >= 60
    assert (links.value > 1).all()


def test_every_required_variable_is_present(model):
    needed_causes = {"training_status", "warm_up", "session_overload", "weekly_progression",
                     "technique", "footwear", "flat_feet", "hard_surface", "cool_down",
                     "hydration", "previous_injury", "sex", "bmi", "energy_availability",
                     "recent_travel_immobility", "hormonal_contraception"}
    needed_conditions = {"doms", "muscle_cramp", "medial_tibial_stress_syndrome",
                         "bone_stress_injury", "femoral_neck_stress_fracture", "calf_strain",
                         "hamstring_strain", "achilles_tendinopathy", "achilles_rupture",
                         "patellofemoral_pain", "iliotibial_band_syndrome", "plantar_fasciitis",
                         "chronic_exertional_compartment_syndrome", "acute_compartment_syndrome",
                         "deep_vein_thrombosis", "exertional_rhabdomyolysis"}
    assert needed_causes <= set(model.cause_ids)
    assert needed_conditions <= set(model.condition_ids)
    assert "leg_pain" in model.network.nodes()


def test_no_medical_number_is_a_python_literal():
    """Only whole numbers, one half and tolerances (< 1e-6, or given as ``atol=`` / ``rtol=``)
    may appear as floats in model/."""
    offenders = []
    for path in sorted((ROOT / "model").glob("*.py")):
        tree = ast.parse(path.read_text())
        tolerances = {id(k.value) for k in ast.walk(tree)
                      if isinstance(k, ast.keyword) and k.arg in ("atol", "rtol")}
        for node in ast.walk(tree):
            if id(node) in tolerances:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, float):
                v = node.value
                if v.is_integer() or v == 0.5 or abs(v) < 1e-6:
                    continue
                offenders.append(f"{path.name}:{node.lineno}: {v}")
    assert not offenders, "probability-like literals belong in data/: " + ", ".join(offenders)


# ---- qualitative influences, for every link in the knowledge base -------------------------
def _p(model, var, evidence):
    return float(model.engine.infer(evidence, [var])[var][-1])


def test_raising_a_cause_never_lowers_the_conditions_it_raises(model):
    states = model.kb.states
    for cond in model.kb.conditions:
        for link in cond.links:
            lo = _p(model, cond.id, {link.cause: link.reference})
            hi = _p(model, cond.id, {link.cause: link.state})
            assert hi > lo, f"{link.cause}={link.state} should raise {cond.id}: {lo} -> {hi}"
            # and with the other causes fixed at random states (no symptoms: no explaining away)
            rng = np.random.default_rng(hash((cond.id, link.cause, link.state)) % 2**32)
            others = {c: states[c][rng.integers(len(states[c]))] for c in model.cause_ids
                      if c not in (link.cause, "hormonal_contraception", "sex")}
            lo = _p(model, cond.id, {**others, link.cause: link.reference})
            hi = _p(model, cond.id, {**others, link.cause: link.state})
            assert hi >= lo, f"{link.cause}={link.state} lowered {cond.id} given {others}"


def test_a_finding_raises_the_conditions_that_cause_it(model):
    for finding in model.kb.findings:
        for link in finding.links:
            prior = _p(model, link.condition, {})
            present = _p(model, link.condition, {finding.id: "present"})
            absent = _p(model, link.condition, {finding.id: "absent"})
            if link.p > finding.leak:
                assert present > prior > absent, (finding.id, link.condition)


def test_conditions_raise_leg_pain(model):
    base = _p(model, "leg_pain", {})
    for cond in model.kb.conditions:
        assert _p(model, "leg_pain", {cond.id: "present"}) > base, cond.id
