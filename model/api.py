"""The public contract: ``load_model()`` and the :class:`Model` the dashboard and notebooks use."""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from .advice import AdviceBook
from .case_posteriors import case_posteriors
from .consistency import check_applicable, explain_conflict
from .diagnosis import Diagnosis
from .engine import BACKENDS, Engine, ImpossibleEvidence, serialised
from .intake import Intake
from .knowledge import Knowledge, load_knowledge
from .network import build_network, parameter_table
from .scope import ScopeCheck, must_rule_out
from .triage import LEVELS, RANK, Triage, TriageRules
from .validation import (
    engine_evidence,
    frame_of_answers,
    probability,
    question_ids,
    quiet_numpy,
    whole_number,
)

EXPORT_FORMATS = (".bif", ".xmlbif", ".net", ".xdsl")


def load_model(path: str | Path | None = None) -> "Model":
    """Load the shipped knowledge base (``data/``) or the one in directory ``path``.

    ``path`` may also be a network file (.bif .xmlbif .net .xdsl, e.g. written by
    :meth:`Model.export` or edited in GeNIe/Hugin): the result supports ``infer``, ``export`` and
    ``evaluate``; the intake-based methods need a knowledge base and say so.
    """
    if path is not None and (Path(path).suffix.lower() in EXPORT_FORMATS
                             or Path(path).is_file()):
        # a file is a network (a knowledge base is a directory): other formats get
        # "unsupported network format" and what to do, not "not a directory"
        from .exchange import NetworkModel
        return NetworkModel.from_file(path)
    kb = load_knowledge(path)
    return Model(kb)


class Model:
    """An evidence-parameterised Bayesian network for leg pain after running.

    Parameters
    ----------
    kb : Knowledge
        The validated knowledge base (see :func:`load_model`).
    parameters : DataFrame, optional
        Fitted parameters (:meth:`fit`) instead of the knowledge base's.
    backends : sequence of str
        The inference back ends the engine may use (see :class:`model.engine.Engine`); the
        tests hold each one to the oracle by restricting a model to it.
    """

    def __init__(self, kb: Knowledge, parameters: pd.DataFrame | None = None,
                 backends=BACKENDS):
        self.kb = kb
        if parameters is None:
            self.parameters: pd.DataFrame = parameter_table(kb)
            self.network = build_network(kb, self.parameters)
        else:  # fitted parameters (Model.fit): priors and noisy-OR tables come from the rows
            from .learning import network_from_parameters
            self.parameters = parameters
            self.network = network_from_parameters(kb, parameters)
        self.engine = Engine(self.network, backends=backends)
        self.intake = Intake(kb)
        self.triage_rules = TriageRules.load(kb.path, kb)
        self.advice_book = AdviceBook.load(kb.path, kb)
        self.scope_check = ScopeCheck.load(kb.path, kb)
        self.condition_ids = [c.id for c in kb.conditions]
        self._serious = frozenset(c.id for c in kb.conditions if c.serious)
        self.cause_ids = [c.id for c in kb.causes]
        self.group_ids = [g.id for g in kb.pain.groups]
        self.labels = {node: kb.label(node) for node in kb.states}
        self._summary_vars = self.condition_ids + self.cause_ids + self.group_ids + ["leg_pain"]
        self.summary_index = [self.engine.index[v] for v in self._summary_vars]
        self.cause_set = frozenset(self.cause_ids)
        # causes whose answers a cause's healthy counterfactual leaves out (explain.healthy)
        self.dependants = {c: [d.id for d in kb.causes if d.depends_on == c]
                           for c in self.cause_ids}
        # built once for the result tables of every diagnosis
        self._condition_ids = np.array(self.condition_ids, dtype=object)
        self._condition_index = pd.Index(self.condition_ids)
        self._group_index = pd.Index(self.group_ids)
        self._cause_index = pd.Index(self.cause_ids, name="id")
        self._cause_labels = np.array([self.labels[c] for c in self.cause_ids], dtype=object)
        self._state_labels = {c.id: [s.label for s in c.states] for c in kb.causes}

    @cached_property
    def summary_layout(self):
        """Where diagnose's marginals sit in the mixture kernel's result row."""
        from .case_posteriors import SummaryLayout
        return SummaryLayout(self, self.engine.mixture)

    def __getstate__(self):
        """A used model pickles: the engine drops its caches, and the layout onto the mixture
        kernel is rebuilt on demand."""
        state = dict(self.__dict__)
        state.pop("summary_layout", None)
        return state

    def __repr__(self) -> str:
        return (f"<Model: {len(self.cause_ids)} causes, {len(self.condition_ids)} conditions, "
                f"{len(self.kb.findings)} findings, {len(self.kb.questions)} questions>")

    @property
    def data_dir(self) -> Path:
        """The knowledge base's directory (the shipped ``data/``, wherever it is installed):
        ``data/cases.csv`` and the YAML files live there."""
        return self.kb.path

    # ------------------------------------------------------------------------------------
    @cached_property
    def questions(self) -> pd.DataFrame:
        """One row per intake question (id, label, group, kind, unit, min, max, options, help)."""
        return self.intake.frame()

    def applicable_questions(self, answers: dict | None = None) -> list[str]:
        """Ids (in questions order) of the questions that apply given ``answers``: those
        without ``applies_if`` or whose ``applies_if`` holds. A condition that reads an
        unanswered question does not exclude it (ask it). Raises ValueError for an unknown
        question, wrong type or out-of-range value."""
        return self.intake.applicable(self.intake.validate(answers))

    def triage(self, answers: dict | None = None) -> Triage:
        """Rules only (red flags and other answer rules; no posterior thresholds): the level,
        reasons and unanswered warning signs. Works on answers :meth:`diagnose` rejects as
        impossible or not applicable; ValueError only for an unknown question, a wrong type
        or an out-of-range value."""
        return self.triage_rules.assess(self.intake.validate(answers), {})

    def explain_conflict(self, answers: dict | None = None) -> str | None:
        """A plain-words sentence on answers that do not apply or cannot all be true together,
        and what to change; None when they are consistent and applicable."""
        return explain_conflict(self, self.intake.validate(answers))

    def state_index(self, node: str, state: str) -> int:
        return self.kb.states[node].index(state)

    # ------------------------------------------------------------------------------------
    def infer(self, evidence: dict | None = None) -> dict[str, np.ndarray]:
        """Engine level: ``{variable: state or likelihood vector}`` -> ``{variable: marginals}``.

        Raises ``ValueError`` for an unknown variable or state and for evidence of probability zero.
        """
        checked = engine_evidence(evidence, self.engine.states)
        try:
            with np.errstate(all="ignore"):
                return self.engine.infer(checked)
        except ImpossibleEvidence:
            raise ValueError(f"the evidence {evidence} has probability zero under the model; "
                             "remove one of the contradicting items") from None

    def _evidence(self, answers) -> tuple[dict, dict, dict]:
        clean = self.intake.validate(answers)
        vectors, sources = self.intake.evidence(clean)
        return clean, vectors, sources

    def _conflict(self, clean: dict) -> ValueError:
        """Name a minimal set of answers that together have probability zero."""
        names = list(clean)
        keep = list(names)
        for qid in names:
            trial = {k: clean[k] for k in keep if k != qid}
            vectors, _ = self.intake.evidence(trial)
            lik = self.engine.likelihoods(vectors, 1)
            if not self.engine.check_possible(lik, 1)[0]:
                keep.remove(qid)
        detail = ", ".join(f"{k}={clean[k]!r}" for k in keep)
        return ValueError(f"these answers cannot all be true together: {detail}; "
                          "change or clear one of them")

    @quiet_numpy
    def diagnose(self, answers: dict | None = None) -> Diagnosis:
        """Diagnose one case.

        Parameters
        ----------
        answers : dict
            ``{question id: value}`` in the units of :attr:`questions`; a missing question or
            ``None`` means "not sure".

        Notes
        -----
        ``causes.contribution`` is, for each cause the user reported at a risk state, how much it
        raises the prospective P(leg pain after running | training and background answers) over
        the same answers with that cause at its healthy state; ``condition_contribution`` is the
        same difference for the leading condition given all answers. Unreported causes have 0 and
        their ``posterior`` is P(cause not at its healthy state | answers).
        """
        clean = self.intake.validate(answers)
        check_applicable(self, clean)
        vectors, _ = self.intake.evidence(clean)
        try:
            post = case_posteriors(self, vectors)
        except ImpossibleEvidence:
            raise self._conflict(clean) from None
        present = post.present
        cond_p = np.array([present[c] for c in self.condition_ids])
        order = np.argsort(-cond_p, kind="stable")  # most likely first, ties in file order
        ranked_ids = self._condition_ids[order]
        conditions = pd.Series(cond_p[order], index=self._condition_index.take(order),
                               name="posterior", copy=False)
        causes, reported_risk = self._cause_table(post, vectors)
        groups = pd.Series(np.array([present[g] for g in self.group_ids]),
                           index=self._group_index, copy=False)
        # triage and advice read plain mappings (pandas lookups cost more than the rules)
        triage = self.triage_rules.assess(clean, dict(zip(self.condition_ids, cond_p.tolist())),
                                          vectors)
        advice = self.advice_book.choose(list(zip(ranked_ids.tolist(), cond_p[order].tolist())),
                                         reported_risk, clean, triage)
        rule_out = must_rule_out(triage, conditions, self.labels, self._serious)
        unexplained = self.scope_check.unexplained(self.kb, vectors, present, rule_out.index)
        return Diagnosis(answers=clean, triage=triage, conditions=conditions, causes=causes,
                         pain_probability=float(present["leg_pain"]), advice=advice,
                         labels=self.labels, groups=groups, must_rule_out=rule_out,
                         out_of_scope=bool(unexplained),
                         out_of_scope_reason=self.scope_check.reason(self.kb, unexplained))

    def _cause_table(self, post, vectors: dict) -> tuple[pd.DataFrame, dict]:
        """``Diagnosis.causes`` and the causes reported at a risk level with posterior >= 0.5
        (``{cause: state id}``, what advice selection reads)."""
        risky = {c: i for i, c in enumerate(post.risky)}
        lead = post.present[post.lead]
        pain, lead_healthy = post.pain_prospective, post.lead_healthy
        n = len(self.cause_ids)
        state, state_id = [None] * n, [None] * n
        posterior, reported = np.empty(n), np.zeros(n, dtype=bool)
        contribution, condition_contribution = np.zeros(n), np.zeros(n)
        reported_risk = {}
        for k, c in enumerate(self.cause_ids):
            marg = post.cause_marginals[c]
            top = int(marg.argmax())
            state[k] = self._state_labels[c][top]
            state_id[k] = self.kb.states[c][top]
            posterior[k] = 1.0 - marg[0]
            if c in vectors:
                reported[k] = True
                if posterior[k] >= 0.5:
                    reported_risk[c] = state_id[k]
            i = risky.get(c)
            if i is not None:
                contribution[k] = pain[0] - pain[i + 1]
                condition_contribution[k] = lead - lead_healthy[i]
        # (built by columns with its index: a frame of row dicts, re-indexed, cost 3x more)
        table = pd.DataFrame({
            "label": self._cause_labels, "state": np.array(state, dtype=object),
            "state_id": np.array(state_id, dtype=object), "posterior": posterior,
            "reported": reported, "contribution": contribution,
            "condition_contribution": condition_contribution}, index=self._cause_index,
            copy=False)
        return table, reported_risk

    def _possible_many(self, cases: list[dict]) -> np.ndarray:
        """One boolean per evidence dict, decided in a single exact check."""
        if not cases:
            return np.zeros(0, dtype=bool)
        index = self.engine.index  # decided once per distinct evidence on constrained CPTs
        return self.engine.possible_rows([{index[k]: np.asarray(v, dtype=float)
                                            for k, v in c.items()} for c in cases])

    def _stack(self, cases: list[dict]) -> dict[int, np.ndarray]:
        """Evidence dicts (intake vectors) -> engine likelihoods ``{index: (len(cases), card)}``."""
        index = self.engine.index
        keys = set().union(*cases) if cases else set()
        lik = {}
        for k in keys:
            if len(cases) == 1:
                lik[index[k]] = np.asarray(cases[0][k], dtype=float)[None, :]
            else:
                arr = np.ones((len(cases), len(self.kb.states[k])))
                for i, c in enumerate(cases):
                    vec = c.get(k)
                    if vec is not None:
                        arr[i] = vec
                lik[index[k]] = arr
        return lik

    def _batch(self, cases: list[dict], variables: list[str],
               check: bool = True) -> dict[str, np.ndarray]:
        """Posterior marginals for a list of evidence dicts, in one engine call (``check``:
        decide possibility first; the engine still raises on a row of probability zero)."""
        index = self.engine.index
        marg, _ = self.engine.posterior(self._stack(cases), len(cases),
                                        [index[v] for v in variables], check=check)
        return {self.engine.variables[i]: m for i, m in marg.items()}

    # ------------------------------------------------------------------------------------
    @quiet_numpy
    def diagnose_many(self, frame: pd.DataFrame, chunk: int = 4096,
                      progress: bool = False, keep=()) -> pd.DataFrame:
        """Diagnose every row of ``frame`` (columns = question ids, NaN = not sure).

        Parameters
        ----------
        frame : DataFrame
            One row per case, one column per question id answered by some case.
        chunk : int
            Rows per inference batch (1 to 1,000,000); memory stays flat whatever ``len(frame)``.
        progress : bool
            Show a progress bar (tqdm) over the chunks.
        keep : str or list of str
            Columns of ``frame`` that are not answers (a case id ...), copied unchanged to the
            front of the result: Spark's ``mapInPandas`` needs them to join results back.

        Returns
        -------
        DataFrame
            Same index as ``frame``: the ``keep`` columns, then ``triage_level``
            (ordered categorical), ``pain_probability``, ``top_condition`` (categorical) and
            ``p_<condition>`` for every condition (float64). :meth:`diagnose_many_meta` is this
            layout with no rows (Dask's ``meta``).
        """
        original = frame
        frame, keep = frame_of_answers("diagnose_many", frame, self.intake.by_id, keep)
        chunk = whole_number("chunk", chunk, 1, 1_000_000)
        # the result is filled in place, chunk by chunk (concatenating per-chunk frames would
        # hold the result twice at the end: 139 MiB more for a million rows)
        n = len(frame)
        levels = np.zeros(n, dtype=np.int8)  # codes into LEVELS
        top = np.zeros(n, dtype=np.int16)  # codes into condition_ids
        values = np.full((n, 1 + len(self.condition_ids)), np.nan)  # pain, then conditions
        starts = range(0, n, chunk)
        if progress:
            from tqdm.auto import tqdm
            starts = tqdm(starts, total=len(starts), unit="chunk")
        for start in starts:
            rows = slice(start, min(start + chunk, n))
            self._diagnose_chunk(frame.iloc[rows], levels[rows], top[rows], values[rows])
        if np.isnan(values).any():  # every row is written by one chunk: a gap is a bug
            raise RuntimeError("diagnose_many left rows without a result")
        result = pd.DataFrame(values, index=frame.index, copy=False, columns=[
            "pain_probability"] + [f"p_{c}" for c in self.condition_ids])
        # categorical columns: a million rows of repeated strings would cost ~100 MB
        result.insert(0, "triage_level",
                      pd.Categorical.from_codes(levels, categories=LEVELS, ordered=True))
        result.insert(2, "top_condition",
                      pd.Categorical.from_codes(top, categories=self.condition_ids))
        for position, column in enumerate(keep):
            result.insert(position, column, original[column])
        return result

    def diagnose_many_meta(self, keep: dict | None = None) -> pd.DataFrame:
        """An empty frame with the columns and dtypes :meth:`diagnose_many` returns (Dask's
        ``meta=``); ``keep``: ``{column: dtype}`` of the pass-through columns."""
        keep = dict(keep or {})
        result = self.diagnose_many(pd.DataFrame())
        for position, (column, dtype) in enumerate(keep.items()):
            result.insert(position, column, pd.Series(dtype=dtype))
        return result

    def _diagnose_chunk(self, part: pd.DataFrame, levels: np.ndarray, top: np.ndarray,
                        values: np.ndarray) -> None:
        """Diagnose the rows of ``part`` into the given slices of the result's arrays."""
        records = part.to_dict("records") if len(part.columns) else [{} for _ in range(len(part))]
        cleans, vectors = [], []
        for label, rec in zip(part.index, records):
            try:
                clean, vec, _ = self._evidence(rec)
                check_applicable(self, clean)  # the same contract as diagnose
            except ValueError as exc:
                raise ValueError(f"row {label!r}: {exc}") from None
            cleans.append(clean)
            vectors.append(vec)
        variables = self.condition_ids + ["leg_pain"]
        keys = set().union(*vectors) if vectors else set()
        if not keys:  # no row answered anything: one no-evidence row, repeated
            keys = {"leg_pain"}
            vectors = [{"leg_pain": np.ones(len(self.kb.states["leg_pain"]))} for _ in vectors]
        arrays = {k: np.stack([v.get(k, np.ones(len(self.kb.states[k]))) for v in vectors])
                  for k in sorted(keys)}
        try:  # infer_batch groups the rows by evidence pattern: each group on its own small tree
            post, _ = self.engine.infer_batch(arrays, variables, n=len(vectors))
        except ImpossibleEvidence as exc:
            bad = exc.cases[0]
            raise ValueError(f"row {part.index[bad]!r}: {self._conflict(cleans[bad])}") from None
        values[:, 0] = post["leg_pain"][:, 1]
        for j, c in enumerate(self.condition_ids):
            values[:, 1 + j] = post[c][:, 1]
        probs = values[:, 1:]
        top[:] = probs.argmax(axis=1)
        for i, clean in enumerate(cleans):  # (the level only: the rules checked by urgency)
            levels[i] = RANK[self.triage_rules.level(
                clean, dict(zip(self.condition_ids, probs[i].tolist())))]

    # -- dashboard views (presentation of the model, no new knowledge) -----------------------
    def condition_info(self) -> pd.DataFrame:
        """One row per condition: ``label, group, serious`` (must-not-miss or needs imaging)."""
        return pd.DataFrame([dict(id=c.id, label=c.label, group=c.group, serious=c.serious)
                             for c in self.kb.conditions]).set_index("id")

    def evidence_nodes(self, answers: dict | None) -> list[str]:
        """The network nodes that ``answers`` set (validated like :meth:`diagnose`)."""
        vectors, _ = self.intake.evidence(self.intake.validate(answers))
        return list(vectors)

    def graph_dot(self, diagnosis: Diagnosis | None = None, focus: bool = True,
                  top: int = 3) -> str:
        """Graphviz DOT text of the network (see :mod:`model.graph`).

        With a ``diagnosis`` what the runner said yes to is highlighted, what they said no to is
        drawn dashed (:func:`model.graph.answer_highlights`), the leading condition stands out and
        the condition posteriors are printed; ``focus`` keeps only the ``top`` conditions, the leading
        one's parents and children, and the answered nodes.
        """
        from .graph import answer_highlights, focus_nodes, network_dot
        layers = {c: "cause" for c in self.cause_ids}
        layers.update({c: "condition" for c in self.condition_ids})
        layers.update({f.id: "finding" for f in self.kb.findings})
        layers.update({g: "group" for g in self.group_ids})
        layers["leg_pain"] = "pain"
        edges = list(self.network.edges())
        yes, no, leading, probs, nodes = set(), set(), None, None, None
        if diagnosis is not None:
            clean = self.intake.validate(diagnosis.answers)
            yes, no = answer_highlights({
                qid: (self.intake.by_id[qid].kind, self.intake.evidence({qid: value})[0])
                for qid, value in clean.items()})
            leading = diagnosis.leading_condition
            probs = dict(diagnosis.conditions.items())
            if focus:
                nodes = focus_nodes(edges, leading, yes | no, diagnosis.conditions.index[:top])
        return network_dot(edges, layers, self.labels, yes, leading, probs, nodes, denied=no)

    def provenance(self, node: str) -> pd.DataFrame:
        """The parameters behind ``node`` and what it implies, each with its source and grade.

        Columns: ``role`` ('share of runners' | 'base rate' | 'risk factor' | 'sign or symptom' |
        'pain'), ``what`` (plain words), ``effect`` (the published effect size, if any),
        ``probability`` (the probability it sets in the network), ``grade``, ``source``.
        """
        if node not in self.labels:
            raise ValueError(f"unknown node {node!r}; allowed: the ids in model.labels")
        links = {(link.cause, link.state): link for c in self.kb.conditions if c.id == node
                 for link in c.links}
        rows = []
        own = self.parameters[self.parameters["node"] == node]
        for r in own.itertuples():
            if r.kind == "prior":
                what, role, effect = f"{self._state_label(node, r.parent_state)}", \
                    "share of runners", ""
            elif r.kind == "leak":
                role, effect = "base rate", ""
                what = "Chance with every listed cause at its healthy level"
            else:
                link = links.get((r.parent, r.parent_state))
                role = "risk factor"
                what = f"{self.labels[r.parent]}: {self._state_label(r.parent, r.parent_state)}"
                effect = (f"{link.measure.replace('_', ' ')} {link.value:g}" if link else "")
            rows.append(dict(role=role, what=what, effect=effect, probability=r.probability,
                             grade=r.grade, source=r.source))
        for r in self.parameters[self.parameters["parent"] == node].itertuples():
            role = "pain" if r.node in self.group_ids else "sign or symptom"
            rows.append(dict(role=role, what=self.labels.get(r.node, r.node), effect="",
                             probability=r.probability, grade=r.grade, source=r.source))
        return pd.DataFrame(rows, columns=["role", "what", "effect", "probability", "grade",
                                           "source"])

    def _state_label(self, node: str, state: str) -> str:
        if node in self.cause_ids:
            return next(s.label for s in self.kb.cause(node).states if s.id == state)
        return str(state)

    # -- explanations, next best question, what-if (model/explain.py, questioning.py, whatif.py)
    def attribution(self, answers: dict | None = None):
        """How much each reported cause adds to P(leg pain) and to each condition.

        Returns an :class:`model.explain.Attribution` (``causes``, ``by_condition``); the
        exact definitions are in the :mod:`model.explain` docstring.
        """
        from .explain import attribution
        return attribution(self, answers)

    def evidence_weights(self, answers: dict | None = None, conditions=None, top: int = 3):
        """Each answer's signed weight (log likelihood ratio, nats) for the leading conditions.

        ``conditions``: a condition id or list of ids; default the ``top`` most likely.
        Returns an :class:`model.explain.EvidenceWeights` (``frame``, ``pivot()``).
        """
        from .explain import evidence_weights
        top = whole_number("top", top, 1, len(self.condition_ids))
        if conditions is not None:
            conditions = [conditions] if isinstance(conditions, str) else conditions
            if not isinstance(conditions, (list, tuple, pd.Index)):
                raise ValueError(f"conditions must be a condition id or a list of them, got "
                                 f"{conditions!r}")
        return evidence_weights(self, answers, conditions, top)

    def next_questions(self, answers: dict | None = None, k: int | None = 3,
                       questions=None) -> pd.DataFrame:
        """The ``k`` most useful unanswered questions (``k=None``: all), best first.

        Columns ``question, label, group, expected_gain`` (bits about the conditions),
        ``p_change_triage, could_change_triage, score, likely_answer, p_likely_answer``;
        ``.attrs['stop']`` is True when no single answer left can change the triage level.
        See :mod:`model.questioning`.
        """
        from .questioning import next_questions
        questions = question_ids("questions", questions, self.intake.by_id)
        return next_questions(self, answers, k, questions)

    def guided_candidates(self, answers: dict | None = None, skip=()) -> list[str]:
        """The questions the guided questionnaire asks its next warning sign from: the open
        warning signs of the most urgent level, or the questions that decide whether they
        apply (where it hurts, ...); ``skip``: questions the runner left "not sure". Empty once
        every applicable warning sign is answered or skipped. See
        :func:`model.questioning.guided_candidates`."""
        from .questioning import guided_candidates
        skip = question_ids("skip", skip, self.intake.by_id) or []
        return guided_candidates(self, answers, skip)

    def question_plan(self, answers: dict | None = None, questions=None):
        """Every unanswered question scored, each possible answer, and the stop rule.

        ``questions``: only score these question ids (``stop`` then speaks for them only).
        """
        from .questioning import plan
        return plan(self, answers, question_ids("questions", questions, self.intake.by_id))

    def what_if(self, answers: dict | None, changes: dict, given: str = "risk_factors"):
        """The case with modifiable answers changed: P(leg pain) and conditions before/after.

        ``given='risk_factors'`` (default) uses training and background answers only (risk on
        future runs); ``'all_answers'`` keeps the symptoms. See :mod:`model.whatif`.
        """
        from .whatif import what_if
        return what_if(self, answers, changes, given)

    def what_would_help(self, answers: dict | None, given: str = "risk_factors") -> pd.DataFrame:
        """Changes the runner could make, ranked by how much they lower P(leg pain)."""
        from .whatif import what_would_help
        self.check_possible(answers)  # else every change is "impossible" and the frame empty
        return what_would_help(self, answers, given)

    def check_possible(self, answers: dict | None) -> dict:
        """The clean answers; ``ValueError`` naming them when they cannot all be true together
        (or naming the question when one is unknown, of the wrong type or out of range)."""
        clean, vectors, _ = self._evidence(answers)
        lik = self.engine.likelihoods(vectors, 1)
        if not self.engine.check_possible(lik, 1)[0]:
            raise self._conflict(clean)
        return clean

    # ------------------------------------------------------------------------------------
    def export(self, path: str | Path) -> Path:
        """Write the network; the format comes from the suffix: .bif .xmlbif .net .xdsl.

        Probabilities keep full precision (see :mod:`model.exchange`); ``load_model(path)``
        reads the file back with the same posteriors to 1e-9.
        """
        from .exchange import write_network
        return write_network(self.network, Path(path))

    # -- learning, calibration and uncertainty (model.learning / evaluation / uncertainty) --
    def sample_cases(self, n: int = 1000, seed: int = 0, **options) -> pd.DataFrame:
        """Synthetic cases sampled from this model (answers + ``true_conditions``)."""
        from .synthetic import sample_cases
        n = whole_number("n", n, 1, 10_000_000)
        seed = whole_number("seed", seed, 0, 2**63 - 1)
        return sample_cases(self, n, seed=seed, **options)

    @quiet_numpy
    def fit(self, frame: pd.DataFrame, **options) -> "Model":
        """A new Model refitted to labelled cases; the literature is the prior (by grade)."""
        from .learning import fit
        return fit(self, frame, **options)

    @cached_property
    def grades(self) -> pd.DataFrame:
        """This knowledge base's ``grades.yaml`` (pseudo-counts and logit sds by evidence grade;
        ``.attrs['credible_level']``), read from the model's own data directory."""
        from .learning import load_grades
        return load_grades(self.kb.path / "grades.yaml")

    @quiet_numpy
    def evaluate(self, frame: pd.DataFrame, bins: int = 10):
        """Brier score, log loss, calibration table, top-1/top-3 accuracy, triage confusion."""
        from .evaluation import evaluate
        return evaluate(self, frame, bins=bins)

    def intervals(self, answers: dict | None = None, draws: int = 100,
                  level: float | None = None, seed: int = 0,
                  scope: str = "conditions") -> pd.DataFrame:
        """Credible intervals of every condition and cause posterior from parameter uncertainty."""
        from .uncertainty import intervals
        draws = whole_number("draws", draws, 10, 10_000)
        seed = whole_number("seed", seed, 0, 2**63 - 1)
        if level is not None:
            level = probability("level", level, 0.5, 1.0)
        if scope not in ("conditions", "all"):
            raise ValueError(f"scope must be 'conditions' or 'all', got {scope!r}")
        self.check_possible(answers)
        with np.errstate(all="ignore"):
            return intervals(self, answers, draws=draws, level=level, seed=seed, scope=scope)

    def diagnose_with_intervals(self, answers: dict | None = None, draws: int = 100,
                                level: float | None = None, seed: int = 0) -> Diagnosis:
        """:meth:`diagnose` plus credible intervals: ``d.intervals``, ``low``/``high`` columns in
        ``d.causes`` and ``d.condition_table()`` (see :mod:`model.uncertainty`)."""
        d = self.diagnose(answers)
        table = self.intervals(answers, draws=draws, level=level, seed=seed)
        d.intervals = table
        d.causes = d.causes.join(table[["low", "high"]])
        return d


# Streamlit serves every session from threads of one process sharing one cached model: the
# methods that run inference hold the engine's (re-entrant) lock, since the kernels they call
# fill shared caches. Applied here, in one place, rather than method by method.
Model.lock = property(lambda self: self.engine.lock, doc="The engine's lock (re-entrant).")
for _name in ("infer", "diagnose", "diagnose_many", "attribution", "evidence_weights",
              "next_questions", "question_plan", "what_if", "what_would_help", "evaluate",
              "intervals", "diagnose_with_intervals", "sample_cases", "fit", "export"):
    setattr(Model, _name, serialised(getattr(Model, _name)))
del _name
