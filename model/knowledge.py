"""Read and validate the knowledge base in ``data/`` into typed objects.

Every probability in the network is derived from these objects, and every object carries the
source and evidence grade it came from. A malformed file raises :class:`KnowledgeError` naming the
file, line, key and problem.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ._yaml import KnowledgeError, Node, read_yaml

GRADES = ("strong", "moderate", "weak", "expert_opinion")
GROUPS_OF_QUESTIONS = ("training", "background", "symptoms")
# where the dashboard asks a question: warning-sign questions first, then the pain, then running
STEPS = ("warning_signs", "pain", "running")
KINDS = ("number", "bool", "choice")
BINARY_STATES = ("absent", "present")
EFFECT_MEASURES = ("odds_ratio", "relative_risk", "hazard_ratio")



def _shipped_data_dir() -> Path:
    """The shipped knowledge base: ``data/`` beside the package in a source checkout or an
    editable install, ``model/data/`` inside it when installed from a wheel (package data, see
    pyproject.toml)."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "data", package.parent / "data"):
        if (candidate / "causes.yaml").is_file():
            return candidate
    return package / "data"  # missing: load_knowledge says so, naming this directory


DEFAULT_DATA_DIR = _shipped_data_dir()


@dataclass(frozen=True)
class State:
    id: str
    label: str


@dataclass(frozen=True)
class Cause:
    id: str
    label: str
    description: str
    modifiable: bool
    states: tuple[State, ...]
    prior: dict  # {state: p} or, with depends_on, {parent_state: {state: p}}
    depends_on: str | None
    source: str
    grade: str

    @property
    def state_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.states)

    @property
    def healthy_state(self) -> str:
        return self.states[0].id


@dataclass(frozen=True)
class CauseLink:
    """One exposed state of a cause raising one condition, from a published effect size."""
    condition: str
    cause: str
    state: str
    reference: str
    measure: str
    value: float
    ci: tuple[float, float] | None
    applies_to: str
    source: str
    grade: str
    note: str

    def exposed_probability(self, base_rate: float) -> float:
        """P(condition | this exposure alone): an odds ratio converted around the base rate
        (Zhang J, Yu KF. JAMA 1998;280:1690-1), a relative risk / hazard ratio as a proportional
        hazard; data/README.md, "How an odds ratio becomes a probability"."""
        p0 = base_rate
        if self.measure == "odds_ratio":
            return self.value * p0 / (1.0 - p0 + self.value * p0)
        return 1.0 - (1.0 - p0) ** self.value  # RR / HR as a proportional hazard


@dataclass(frozen=True)
class Condition:
    id: str
    label: str
    group: str
    serious: bool
    base_rate: float
    base_rate_source: str
    base_rate_grade: str
    pain_link: float
    pain_link_source: str
    pain_link_grade: str
    links: tuple[CauseLink, ...]
    description: str = ""


@dataclass(frozen=True)
class FindingLink:
    finding: str
    condition: str
    p: float
    source: str
    grade: str


@dataclass(frozen=True)
class Finding:
    id: str
    label: str
    leak: float
    leak_source: str
    leak_grade: str
    links: tuple[FindingLink, ...]


@dataclass(frozen=True)
class Group:
    id: str
    label: str


@dataclass(frozen=True)
class Pain:
    label: str
    leak: float
    source: str
    grade: str
    groups: tuple[Group, ...]


@dataclass(frozen=True)
class Mapping:
    """Evidence produced by one answer: node -> likelihood over that node's states."""
    evidence: dict  # {node: state} (hard) or {node: {state: weight}} (soft)


@dataclass(frozen=True)
class Bin:
    below: float | None
    mapping: Mapping


@dataclass(frozen=True)
class Option:
    id: str
    label: str
    mapping: Mapping


@dataclass(frozen=True)
class Question:
    id: str
    label: str
    group: str
    kind: str
    unit: str
    min: float | None
    max: float | None
    increment: float | None       # a number question's slider increment
    help: str
    bins: tuple[Bin, ...] = ()
    options: tuple[Option, ...] = ()
    if_yes: Mapping | None = None
    if_no: Mapping | None = None
    source: str = ""
    grade: str = ""
    step: str = "pain"            # where the dashboard asks it: one of STEPS
    warning_sign: bool = False    # a red-flag question (validated against triage.yaml)
    applies_if: dict | None = None  # raw condition (predicate language), None = always
    applies_if_node: Node | None = field(default=None, compare=False, repr=False)

    def mappings(self) -> list[Mapping]:
        if self.kind == "number":
            return [b.mapping for b in self.bins]
        if self.kind == "choice":
            return [o.mapping for o in self.options]
        return [m for m in (self.if_yes, self.if_no) if m is not None]


@dataclass(frozen=True)
class Knowledge:
    path: Path
    causes: tuple[Cause, ...]
    conditions: tuple[Condition, ...]
    findings: tuple[Finding, ...]
    pain: Pain
    questions: tuple[Question, ...]
    states: dict = field(default_factory=dict)  # node id -> tuple of state ids

    def cause(self, cid: str) -> Cause:
        return next(c for c in self.causes if c.id == cid)

    def condition(self, cid: str) -> Condition:
        return next(c for c in self.conditions if c.id == cid)

    def finding(self, fid: str) -> Finding:
        return next(f for f in self.findings if f.id == fid)

    def question(self, qid: str) -> Question:
        return next(q for q in self.questions if q.id == qid)

    def label(self, node: str) -> str:
        for seq in (self.causes, self.conditions, self.findings, self.pain.groups):
            for item in seq:
                if item.id == node:
                    return item.label
        if node == "leg_pain":
            return self.pain.label
        return node


# ------------------------------------------------------------------------------------------
# loading
# ------------------------------------------------------------------------------------------
def load_knowledge(path: str | Path | None = None) -> Knowledge:
    """Read and validate every knowledge file in ``path`` (default: the shipped ``data/``)."""
    root = Path(path) if path is not None else DEFAULT_DATA_DIR
    if not root.is_dir():
        raise KnowledgeError(f"{root}: not a directory of knowledge files")

    def doc(name: str) -> Node:
        file = root / name
        return Node(read_yaml(file), str(file))

    causes = _read_causes(doc("causes.yaml"))
    states: dict[str, tuple[str, ...]] = {c.id: c.state_ids for c in causes}
    _check_priors(causes, states)
    pain_doc = doc("pain.yaml")
    pain = _read_pain(pain_doc)
    conditions = _read_conditions(doc("conditions.yaml"), states, {g.id for g in pain.groups})
    for c in conditions:
        _unique(states, c.id, pain_doc.file)
        states[c.id] = BINARY_STATES
    findings = _read_findings(doc("findings.yaml"), {c.id for c in conditions}, states)
    for g in pain.groups:
        _unique(states, g.id, pain_doc.file)
        states[g.id] = BINARY_STATES
    _unique(states, "leg_pain", pain_doc.file)
    states["leg_pain"] = BINARY_STATES
    used_groups = {c.group for c in conditions}
    for g in pain.groups:
        if g.id not in used_groups:
            pain_doc.fail(f"group {g.id!r} has no condition in conditions.yaml")
    questions = _read_questions(doc("questions.yaml"), states)
    return Knowledge(root, causes, conditions, findings, pain, questions, states)


def read_data_file(data_dir: str | Path, name: str, kb: Knowledge | None = None
                   ) -> tuple[Knowledge, Node]:
    """A knowledge file that refers to the core knowledge (triage rules, advice).

    Returns the knowledge of ``data_dir`` (``kb`` if given) and the file's top-level mapping,
    whose errors name the file as ``name:line``.
    """
    kb = load_knowledge(data_dir) if kb is None else kb
    path = Path(data_dir) / name
    return kb, Node(read_yaml(path), path.name).mapping()


def _unique(states: dict, node_id: str, file: str):
    if node_id in states:
        raise KnowledgeError(f"{file}: id {node_id!r} is used by two variables")


def _source(node: Node, key: str = "source") -> str:
    return node.get(key).text()


def _grade(node: Node, key: str = "grade") -> str:
    return node.get(key).choice(GRADES)


def _read_causes(doc: Node) -> tuple[Cause, ...]:
    out, seen = [], set()
    for item in doc.mapping().get("causes").list():
        item.check_keys({"id", "label", "description", "modifiable", "states", "prior",
                         "depends_on", "prior_source", "prior_grade", "note"})
        cid = item.get("id").ident()
        if cid in seen:
            item.get("id").fail(f"cause {cid!r} is defined twice")
        seen.add(cid)
        states = []
        for s in item.get("states").list():
            s.check_keys({"id", "label"})
            states.append(State(s.get("id").ident(), s.get("label").text()))
        if len(states) < 2:
            item.get("states").fail("a cause needs at least two states")
        if len({s.id for s in states}) != len(states):
            item.get("states").fail("state ids must be unique")
        depends_on = item.get("depends_on").ident() if item.has("depends_on") else None
        out.append(Cause(
            id=cid, label=item.get("label").text(),
            description=item.get("description", "").value or "",
            modifiable=item.get("modifiable").boolean(),
            states=tuple(states), prior={"_node": item.get("prior")},
            depends_on=depends_on, source=_source(item, "prior_source"),
            grade=_grade(item, "prior_grade")))
    return tuple(out)


def _distribution(node: Node, states: tuple[str, ...], allow_zero: bool) -> dict:
    node.mapping()
    given = dict(node.items())
    missing = [s for s in states if s not in given]
    extra = [k for k in given if k not in states]
    if missing or extra:
        node.fail(f"needs exactly the states {', '.join(states)}"
                  + (f"; missing {', '.join(missing)}" if missing else "")
                  + (f"; unknown {', '.join(extra)}" if extra else ""))
    dist = {s: given[s].number(0.0, 1.0, low_open=not allow_zero) for s in states}
    if abs(sum(dist.values()) - 1.0) > 1e-9:
        node.fail(f"probabilities must sum to 1 (they sum to {sum(dist.values()):.6g})")
    return dist


def _check_priors(causes: tuple[Cause, ...], states: dict):
    for cause in causes:
        node = cause.prior.pop("_node")
        if cause.depends_on is None:
            cause.prior.update(_distribution(node, cause.state_ids, allow_zero=False))
            continue
        if cause.depends_on not in states or cause.depends_on == cause.id:
            node.fail(f"depends_on {cause.depends_on!r} is not another cause")
        parent = next(c for c in causes if c.id == cause.depends_on)
        if parent.depends_on is not None:
            node.fail(f"depends_on {cause.depends_on!r}: chains of dependent priors are not supported")
        node.mapping()
        keys = {k for k, _ in node.items()}
        if keys != set(parent.state_ids):
            node.fail(f"needs one distribution per state of {parent.id}: {', '.join(parent.state_ids)}")
        for pstate, sub in node.items():
            cause.prior[pstate] = _distribution(sub, cause.state_ids, allow_zero=True)


def _read_pain(doc: Node) -> Pain:
    doc.check_keys({"leg_pain", "groups"})
    lp = doc.get("leg_pain")
    lp.check_keys({"label", "leak", "leak_source", "leak_grade", "note"})
    groups = []
    for g in doc.get("groups").list():
        g.check_keys({"id", "label", "description"})
        groups.append(Group(g.get("id").ident(), g.get("label").text()))
    return Pain(lp.get("label").text(), lp.get("leak").probability(),
                _source(lp, "leak_source"), _grade(lp, "leak_grade"), tuple(groups))


def _read_conditions(doc: Node, states: dict, groups: set[str]) -> tuple[Condition, ...]:
    out, seen = [], set()
    for item in doc.mapping().get("conditions").list():
        item.check_keys({"id", "label", "group", "serious", "base_rate", "base_rate_source",
                         "base_rate_grade", "pain_link", "pain_link_source", "pain_link_grade",
                         "causes", "description", "note"})
        cid = item.get("id").ident()
        if cid in seen:
            item.get("id").fail(f"condition {cid!r} is defined twice")
        seen.add(cid)
        base = item.get("base_rate").probability()
        links, linked = [], set()
        for link in item.get("causes").list(allow_empty=True):
            link.check_keys({"cause", "state", "reference", "odds_ratio", "relative_risk",
                             "hazard_ratio", "ci", "applies_to", "source", "grade", "note"})
            cause = link.get("cause").choice(sorted(k for k in states))
            cause_states = states[cause]
            reference = (link.get("reference").choice(cause_states) if link.has("reference")
                         else cause_states[0])
            state = link.get("state").choice(cause_states)
            if state == reference:
                link.get("state").fail(f"{state!r} is the reference state of {cause}; a link "
                                       "must name an exposed state")
            if (cause, state) in linked:
                link.fail(f"{cause}={state} is linked to {cid} twice")
            linked.add((cause, state))
            measures = [m for m in EFFECT_MEASURES if link.has(m)]
            if len(measures) != 1:
                link.fail(f"give exactly one of {', '.join(EFFECT_MEASURES)}")
            value = link.get(measures[0]).number(1.0)
            ci = None
            if link.has("ci"):
                ci_node = link.get("ci")
                pair = ci_node.list()
                if len(pair) != 2:
                    ci_node.fail("a confidence interval is [low, high]")
                lo, hi = pair[0].number(0.0, low_open=True), pair[1].number(0.0, low_open=True)
                if not lo <= value <= hi:
                    ci_node.fail(f"the interval [{lo:g}, {hi:g}] does not contain {value:g}")
                ci = (lo, hi)
            links.append(CauseLink(
                condition=cid, cause=cause, state=state, reference=reference,
                measure=measures[0], value=value, ci=ci,
                applies_to=link.get("applies_to", "").value or "",
                source=_source(link), grade=_grade(link), note=link.get("note", "").value or ""))
        references = {}
        for link in links:
            if references.setdefault(link.cause, link.reference) != link.reference:
                item.get("causes").fail(f"links from {link.cause} to {cid} use two different "
                                        "reference states")
        out.append(Condition(
            id=cid, label=item.get("label").text(), group=item.get("group").choice(sorted(groups)),
            serious=item.get("serious").boolean(), base_rate=base,
            base_rate_source=_source(item, "base_rate_source"),
            base_rate_grade=_grade(item, "base_rate_grade"),
            pain_link=item.get("pain_link").probability(),
            pain_link_source=_source(item, "pain_link_source"),
            pain_link_grade=_grade(item, "pain_link_grade"), links=tuple(links),
            description=item.get("description", "").value or ""))
    return tuple(out)


def _read_findings(doc: Node, conditions: set[str], states: dict) -> tuple[Finding, ...]:
    out = []
    for item in doc.mapping().get("findings").list():
        item.check_keys({"id", "label", "leak", "leak_source", "leak_grade", "given", "note",
                         "description"})
        fid = item.get("id").ident()
        _unique(states, fid, item.file)
        states[fid] = BINARY_STATES
        leak = item.get("leak").probability()
        links = []
        for cond, link in item.get("given").items():
            if cond not in conditions:
                link.fail(f"{cond!r} is not a condition in conditions.yaml")
            link.check_keys({"p", "source", "grade", "note"})
            p = link.get("p").probability()
            if p < leak:
                link.get("p").fail(f"P(finding | condition) = {p:g} is below the leak {leak:g}: "
                                   "a condition can only raise its findings")
            links.append(FindingLink(fid, cond, p, _source(link), _grade(link)))
        if not links:
            item.get("given").fail("a finding needs at least one condition")
        out.append(Finding(fid, item.get("label").text(), leak, _source(item, "leak_source"),
                           _grade(item, "leak_grade"), tuple(links)))
    return tuple(out)


def _read_mapping(node: Node, states: dict) -> Mapping:
    node.check_keys({"evidence", "label", "id", "below"})
    evidence = {}
    for var, value in node.get("evidence").items():
        if var not in states:
            value.fail(f"{var!r} is not a variable of the network")
        allowed = states[var]
        if isinstance(value.value, dict):
            weights = {}
            for s, w in value.items():
                if s not in allowed:
                    w.fail(f"{s!r} is not a state of {var}; states: {', '.join(allowed)}")
                weights[s] = w.number(0.0)
            if not any(weights.values()):
                value.fail("soft evidence needs at least one positive weight")
            evidence[var] = weights
        else:
            evidence[var] = value.choice(allowed)
    return Mapping(evidence)


def _read_questions(doc: Node, states: dict) -> tuple[Question, ...]:
    out, seen = [], set()
    for item in doc.mapping().get("questions").list():
        item.check_keys({"id", "label", "group", "kind", "unit", "min", "max", "increment",
                         "help", "bins", "options", "if_yes", "if_no", "source", "grade", "note",
                         "step", "warning_sign", "applies_if"})
        qid = item.get("id").ident()
        if qid in seen:
            item.get("id").fail(f"question {qid!r} is defined twice")
        seen.add(qid)
        kind = item.get("kind").choice(KINDS)
        common = dict(id=qid, label=item.get("label").text(),
                      group=item.get("group").choice(GROUPS_OF_QUESTIONS), kind=kind,
                      unit=item.get("unit", "").value or "", help=item.get("help", "").value or "",
                      source=item.get("source", "").value or "",
                      grade=item.get("grade").choice(GRADES) if item.has("grade") else "",
                      step=item.get("step").choice(STEPS),
                      warning_sign=item.get("warning_sign", False).boolean(),
                      applies_if=(_plain(item.get("applies_if").mapping().value)
                                  if item.has("applies_if") else None),
                      applies_if_node=item.get("applies_if") if item.has("applies_if") else None)
        if common["warning_sign"] != (common["step"] == "warning_signs"):
            item.get("step").fail("warning-sign questions (warning_sign: true) and only they are "
                                  "asked at step 'warning_signs'")
        if kind == "number":
            lo, hi = item.get("min").number(), item.get("max").number()
            if not lo < hi:
                item.get("max").fail(f"max ({hi:g}) must be greater than min ({lo:g})")
            step = (item.get("increment").number(0.0, low_open=True) if item.has("increment")
                    else None)
            bins, last = [], lo
            bin_nodes = item.get("bins").list()
            for i, b in enumerate(bin_nodes):
                below = None
                if b.has("below"):
                    below = b.get("below").number()
                    if below <= last and i:
                        b.get("below").fail(f"cut-offs must increase (got {below:g} after {last:g})")
                    last = below
                elif i != len(bin_nodes) - 1:
                    b.fail("only the last bin may leave out `below`")
                bins.append(Bin(below, _read_mapping(b, states)))
            if bins[-1].below is not None:
                bin_nodes[-1].fail("the last bin must have no `below` (it takes every larger value)")
            if not common["source"]:
                item.fail("a number question's cut-offs need a `source`")
            out.append(Question(**common, min=lo, max=hi, increment=step, bins=tuple(bins)))
        elif kind == "bool":
            if not (item.has("if_yes") or item.has("if_no")):
                item.fail("a bool question needs if_yes and/or if_no")
            yes = _read_mapping(item.get("if_yes"), states) if item.has("if_yes") else None
            no = _read_mapping(item.get("if_no"), states) if item.has("if_no") else None
            out.append(Question(**common, min=None, max=None, increment=None, if_yes=yes,
                                if_no=no))
        else:
            options, ids = [], set()
            for o in item.get("options").list():
                oid = o.get("id").ident()
                if oid in ids:
                    o.get("id").fail(f"option {oid!r} appears twice")
                ids.add(oid)
                options.append(Option(oid, o.get("label").text(), _read_mapping(o, states)))
            if len(options) < 2:
                item.get("options").fail("a choice needs at least two options")
            out.append(Question(**common, min=None, max=None, increment=None,
                                options=tuple(options)))
    return tuple(out)


def _plain(value):
    """A YAML value as plain dicts and lists (the loader's line-numbered containers dropped)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
