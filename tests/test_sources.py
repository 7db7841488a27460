"""Sources a user can open: every source shown on the page or in the API is a primary reference
(author and year, or a named guideline / clinical reference), or says plainly that the number is
expert opinion or consensus. The developers' notes file ("evidence.md") is never cited: users do
not have it."""
import dataclasses
import re

import pytest

from model import load_model

NOTES_FILE = re.compile(r"evidence\.md", re.IGNORECASE)
YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")
JUDGEMENT = re.compile(r"expert opinion|consensus", re.IGNORECASE)
# Guideline bodies and clinical reference pages that publish without a fixed year (the pages are
# revised continuously). A source naming one of them is a reference a user can look up; any other
# source of a number must give the year of its paper or say it is a judgement.
UNDATED_REFERENCES = re.compile(
    r"\b(NHS|NICE NG\d+|NICE CKS|HSE|NI Direct|UpToDate|StatPearls|Medbullets|Mayo Clinic|"
    r"gpreasoning\.uk|coaortho|fpnotebook|orthovellum|physio-pedia|musculoskeletalkey|"
    r"drerikhohmann|sports-health|Bloem Physio|Portsmouth|Sheffield Teaching Hospitals|"
    r"Australian Prescriber|BMJ Best Practice)\b")


@pytest.fixture(scope="module")
def shipped():
    return load_model()


def number_sources(m):
    """(where, source) for every parameter, cut-off, threshold and day limit of the shipped model,
    read from the loader's structures (what provenance, diagnose and the dashboard show)."""
    kb = m.kb
    for c in kb.causes:
        yield f"causes.yaml {c.id} prior", c.source
    for c in kb.conditions:
        yield f"conditions.yaml {c.id} base_rate", c.base_rate_source
        yield f"conditions.yaml {c.id} pain_link", c.pain_link_source
        for link in c.links:
            yield f"conditions.yaml {c.id} <- {link.cause}={link.state}", link.source
    for f in kb.findings:
        yield f"findings.yaml {f.id} leak", f.leak_source
        for link in f.links:
            yield f"findings.yaml {f.id} | {link.condition}", link.source
    yield "pain.yaml leak", kb.pain.source
    for q in kb.questions:
        if q.source or q.kind == "number":
            yield f"questions.yaml {q.id}", q.source
    for r in m.triage_rules.rules:
        yield f"triage.yaml {r.id}", r.source
    for n in m.triage_rules.self_care:
        yield f"triage.yaml {n.id}", n.source
    for row in m.questions.itertuples():  # the question table the API and dashboard show
        if row.source:
            yield f"question table {row.id}", row.source
    for row in m.parameters.itertuples():
        if row.source.startswith("structural:"):  # the deterministic OR of the groups
            continue
        yield f"parameters {row.node} ({row.kind})", row.source


def all_text(obj, path="", seen=None):
    """Every string reachable from a loaded object (dataclass fields, mappings, sequences)."""
    seen = set() if seen is None else seen
    if isinstance(obj, str):
        yield path, obj
        return
    if id(obj) in seen or obj is None or isinstance(obj, (int, float, bool)):
        return
    seen.add(id(obj))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from all_text(getattr(obj, f.name), f"{path}.{f.name}", seen)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from all_text(v, f"{path}[{k!r}]", seen)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for i, v in enumerate(obj):
            yield from all_text(v, f"{path}[{i}]", seen)
    elif hasattr(obj, "__dict__"):
        for k, v in vars(obj).items():
            yield from all_text(v, f"{path}.{k}", seen)


def test_every_number_has_a_source_a_user_can_look_up(shipped):
    rows = list(number_sources(shipped))
    assert len(rows) > 400  # the whole knowledge base, not a handful of entries
    missing = [where for where, src in rows if not src or not src.strip()]
    assert not missing, f"no source: {missing[:10]}"
    unciteable = [(where, src) for where, src in rows
                  if not (YEAR.search(src) or JUDGEMENT.search(src)
                          or UNDATED_REFERENCES.search(src))]
    assert not unciteable, "sources naming neither a year, a guideline/reference page nor " \
                           f"'expert opinion'/'consensus': {unciteable[:10]}"


def test_graded_evidence_names_its_paper(shipped):
    """A number graded strong or moderate comes from a paper or guideline: its source has a year
    or names the guideline; only expert-opinion numbers may rest on a judgement alone."""
    kb = shipped.kb
    graded = [(f"{c.id} <- {k.cause}", k.source, k.grade) for c in kb.conditions
              for k in c.links]
    graded += [(f"{c.id} base_rate", c.base_rate_source, c.base_rate_grade)
               for c in kb.conditions]
    graded += [(f"{f.id} | {k.condition}", k.source, k.grade) for f in kb.findings
               for k in f.links]
    graded += [(r.id, r.source, r.grade) for r in shipped.triage_rules.rules]
    bad = [(w, s) for w, s, g in graded if g in ("strong", "moderate")
           and not (YEAR.search(s) or UNDATED_REFERENCES.search(s))]
    assert not bad, bad[:10]


def test_no_source_or_text_cites_the_developers_notes(shipped):
    objects = {"knowledge": shipped.kb, "triage": shipped.triage_rules,
               "advice": shipped.advice_book}
    hits = [(name + where, text[:120]) for name, obj in objects.items()
            for where, text in all_text(obj) if NOTES_FILE.search(text)]
    assert not hits, hits[:10]
    assert not shipped.parameters["source"].str.contains(NOTES_FILE).any()


def test_no_shipped_data_file_mentions_the_developers_notes(data_dir):
    """Comments included: a reviewer reading data/ has no access to the developers' notes."""
    files = [p for p in data_dir.rglob("*") if p.is_file() and p.suffix in {".yaml", ".md",
                                                                              ".csv", ".txt"}]
    assert any(p.name == "conditions.yaml" for p in files)
    hits = [f"{p.name}:{i}" for p in files
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if NOTES_FILE.search(line)]
    assert not hits, hits


def test_what_a_runner_is_shown_cites_no_notes_file(shipped):
    """The reasons and advice of real answers (urgent, see-soon, self-care) carry sources a user
    can look up."""
    cases = [{}, {"swelling": True, "warmth_redness": True, "both_legs": False},
             {"breathless_or_chest_pain": True},
             {"pain_location": "shin", "tenderness": "pinpoint_bone"},
             {"onset": "hours_after_run", "both_legs": True}]
    levels = set()
    for answers in cases:
        d = shipped.diagnose(answers)
        levels.add(d.triage.level)
        shown = [r.source for r in d.triage.reasons] + [a.source for a in d.advice]
        assert shown, answers
        for src in shown:
            assert not NOTES_FILE.search(src), (answers, src)
            assert YEAR.search(src) or JUDGEMENT.search(src) or UNDATED_REFERENCES.search(src), \
                (answers, src)
    assert levels == {"urgent_care", "see_clinician_soon", "self_care"}


def test_the_checks_catch_a_notes_citation_and_an_undated_paper(data_copy):
    """The checks above are not vacuous: a source pointing at the notes file, and a paper cited
    without its year, are both found."""
    path = data_copy / "conditions.yaml"
    text = path.read_text(encoding="utf-8")
    old = 'source: "Wright AA et al. Br J Sports Med 2015;49:1517-23"'
    assert old in text
    text = text.replace(old, 'source: "evidence.md 1.2"', 1)
    old = 'source: "Lauersen JB et al. Br J Sports Med 2014;48:871-7"'
    assert old in text
    text = text.replace(old, 'source: "Lauersen JB et al. Br J Sports Med"', 1)
    path.write_text(text, encoding="utf-8")
    doctored = load_model(data_copy)
    sources = [src for _, src in number_sources(doctored)]
    assert "evidence.md 1.2" in sources
    assert any(NOTES_FILE.search(t) for _, t in all_text(doctored.kb))
    undated = [s for s in sources if not (YEAR.search(s) or JUDGEMENT.search(s)
                                          or UNDATED_REFERENCES.search(s))]
    assert "Lauersen JB et al. Br J Sports Med" in undated
