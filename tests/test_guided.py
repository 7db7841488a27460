"""The guided questionnaire's warning-sign order (``Model.guided_candidates``): the most urgent
signs first, each asked only once the model knows it applies, and none left behind."""
import pytest

from model.triage import RANK


def level_of(model, answers, qid):
    return next(s.level for s in model.triage(answers).missing if s.question == qid)


def walk(model, answers, reply, skip=()):
    """Answer the guided questionnaire's warning-sign phase: each time the plan's first
    candidate, with ``reply(question)`` (None = not sure). Returns the questions in order."""
    answers, skip, asked = dict(answers), set(skip), []
    for _ in range(60):
        candidates = model.guided_candidates(answers, skip=skip)
        if not candidates:
            return asked, answers, skip
        ranking = model.question_plan(answers, questions=candidates).ranking
        qid = ranking.iloc[0]["question"] if len(ranking) else candidates[0]
        assert qid in candidates
        asked.append((qid, model.triage(answers).missing))
        value = reply(qid)
        if value is None:
            skip.add(qid)
        else:
            answers[qid] = value
    raise AssertionError("the guided questionnaire did not end")


def benign(model):
    q = model.questions.set_index("id")

    def reply(qid):
        if qid == "pain_location":
            return "calf"
        if qid == "onset":
            return "hours_after_run"
        if q.loc[qid, "kind"] == "bool":
            return False
        return None
    return reply


def test_the_first_questions_are_the_most_urgent_signs_that_apply(model):
    candidates = model.guided_candidates({})
    q = model.questions.set_index("id")
    assert candidates and all(q.loc[c, "warning_sign"] for c in candidates)
    assert all(level_of(model, {}, c) == "urgent_care" for c in candidates)
    assert "breathless_or_chest_pain" in candidates
    # not before the runner has said where it hurts / whether they can walk
    for gated in ("ottawa_bone_tenderness", "knee_mechanical", "calf_squeeze_foot_still",
                  "painful_hop"):
        assert gated not in candidates


def test_a_runner_is_asked_every_sign_that_applies_most_urgent_first(model):
    asked, answers, skip = walk(model, {}, benign(model))
    order = [qid for qid, _ in asked]
    # where it hurts decides four signs: asked, and the ones it rules out never are
    assert "pain_location" in order
    assert "ottawa_bone_tenderness" not in order and "knee_mechanical" not in order
    assert order.index("unable_four_steps") < order.index("painful_hop")
    assert order.index("pain_location") < order.index("calf_squeeze_foot_still")
    # at every step the question asked was among the most urgent still open
    for qid, missing in asked:
        open_levels = [RANK[s.level] for s in missing if s.question not in skip]
        if qid in {s.question for s in missing}:
            assert RANK[next(s.level for s in missing if s.question == qid)] == max(open_levels)
    # and nothing is left: every applicable warning sign is answered or was left "not sure"
    assert {s.question for s in model.triage(answers).missing} <= skip


def test_a_deciding_question_left_not_sure_does_not_hide_the_signs_it_decides(model):
    candidates = model.guided_candidates({}, skip=[])
    assert "pain_location" not in candidates
    reply = benign(model)
    asked, answers, skip = walk(model, {}, lambda q: None if q == "pain_location" else reply(q))
    order = [qid for qid, _ in asked]
    assert "pain_location" in skip
    # location unknown: the Ottawa and knee signs may apply, so they are asked
    assert "ottawa_bone_tenderness" in order and "knee_mechanical" in order


def test_guided_candidates_validate_their_input(model):
    with pytest.raises(ValueError, match="skip"):
        model.guided_candidates({}, skip=["no_such_question"])
    with pytest.raises(ValueError, match="unknown question"):
        model.guided_candidates({"no_such_question": 1})
    every = [s.question for s in model.triage({}).missing]
    assert model.guided_candidates({}, skip=every + ["pain_location", "shooting_pain_down_leg",
                                                    "onset"]) == []
