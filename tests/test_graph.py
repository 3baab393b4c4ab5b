"""The knowledge graph (anxin.knowledge.graph) and its CLI, checked against the filing YAML."""
from __future__ import annotations

import copy
import json
import sys
import types

import networkx as nx
import pytest
from typer.testing import CliRunner

from anxin.knowledge import filing
from anxin.knowledge import graph as kg
from anxin.knowledge.graph_cli import app
from anxin.tools.errors import ToolError


@pytest.fixture(scope="module")
def g() -> nx.MultiDiGraph:
    return kg.build_graph()


@pytest.fixture(scope="module")
def catalog() -> dict:
    return filing.load_catalog()


@pytest.fixture(scope="module")
def uw() -> dict:
    return filing.load_underwriting()


def out_rel(g, node, rel):
    return [(v, d) for _, v, d in g.out_edges(node, data=True) if d["rel"] == rel]


# --------------------------------------------------------------------------- structure


def test_every_product_coverage_exclusion_and_section(g, catalog):
    for p in catalog["products"]:
        pid = p["id"]
        pn = f"product:{pid}"
        assert g.nodes[pn]["kind"] == "product"
        assert g.nodes[pn]["name_zh"] == p["name"]["zh"] and g.nodes[pn]["name_en"] == p["name"]["en"]
        covs = {g.nodes[v]["code"] for v, _ in out_rel(g, pn, "has_coverage")}
        assert covs == {c["code"] for c in p["coverages"]}
        for c in p["coverages"]:
            cn = f"coverage:{pid}:{c['code']}"
            assert g.nodes[cn]["kind"] == "coverage"
            assert g.nodes[cn]["clause_id"] == f"{pid}-COV-{c['code']}"
            assert g.nodes[cn]["name_zh"] == c["name"]["zh"]
            assert [v for v, _ in out_rel(g, cn, "defined_in")] == [f"clause:{pid}-COV-{c['code']}"]
        excl = {g.nodes[v]["clause_id"] for v, _ in out_rel(g, pn, "has_exclusion")}
        assert excl == {e["id"] for e in p["exclusions"]}
        sections = [g.nodes[v]["clause_id"] for v, _ in sorted(out_rel(g, pn, "has_clause"), key=lambda x: x[1]["order"])]
        assert sections == filing.product_section_ids(pid)
        assert kg.section_ids(p) == filing.product_section_ids(pid)


def test_every_clause_id_in_graph_is_a_filing_clause_id(g, catalog):
    known = set(filing.general_clause_ids()) | set(filing.underwriting_clause_ids())
    for pid in filing.products():
        known |= set(filing.product_section_ids(pid))
    ids = {d["clause_id"] for _, d in g.nodes(data=True) if d.get("clause_id")}
    assert ids <= known
    # and every citable id is reachable in the graph
    assert known <= ids


def test_nodes_have_kind_and_bilingual_names(g):
    kinds = {d["kind"] for _, d in g.nodes(data=True)}
    assert {"product", "coverage", "clause", "exclusion", "claim_document", "claim_type", "condition",
            "rule", "decision", "line", "programme", "uw_exclusion"} <= kinds
    for n, d in g.nodes(data=True):
        assert d.get("name_zh") and d.get("name_en"), n


def test_claim_document_edges(g, catalog):
    for p in catalog["products"]:
        pn = f"product:{p['id']}"
        edges = out_rel(g, pn, "requires_document")
        always = [g.nodes[v]["doc_id"] for v, d in edges if not d["conditional"]]
        assert always == p["claim_documents"]
        cond = {}
        for v, d in edges:
            if d["conditional"]:
                cond.setdefault(d["claim_type"], []).append(g.nodes[v]["doc_id"])
        assert cond == (p.get("claim_documents_conditional") or {})
    e = [d for v, d in out_rel(g, "product:CI-200", "requires_document") if v == "doc:DOC-DEATH-CERT"]
    assert e == [{"rel": "requires_document", "conditional": True, "claim_type": "DEATH", "coverage": "DEATH",
                  "clause_id": "CI-200-CLAIM-DOCS"}]
    # claim types tied to their coverage
    assert [v for v, _ in out_rel(g, "claim_type:HOME-700:CONTENTS_THEFT", "for_coverage")] == ["coverage:HOME-700:CONTENTS"]
    assert [v for v, _ in out_rel(g, "claim_type:TL-300:TPD", "for_coverage")] == ["coverage:TL-300:DEATH_TPD"]


def test_lines_rules_and_decisions(g, uw):
    for lid, line in uw["lines"].items():
        for pid in line["products"]:
            assert [v for v, _ in out_rel(g, f"product:{pid}", "in_line")] == [f"line:{lid}"]
    for pid in uw["not_underwritten"]["products"]:
        assert g.nodes[f"product:{pid}"]["health_underwriting"] is False
        assert out_rel(g, f"product:{pid}", "in_line") == []
    n_rules = 0
    for cid, cond in uw["conditions"].items():
        rules = [g.nodes[v]["clause_id"] for v, _ in sorted(out_rel(g, f"condition:{cid}", "has_rule"), key=lambda x: x[1]["order"])]
        assert rules == [r["rule_id"] for r in cond["rules"]]
        for r in cond["rules"]:
            n_rules += 1
            outs = {d["line"]: g.nodes[v] for v, d in out_rel(g, f"rule:{r['rule_id']}", "outcome")}
            assert {line: dec["outcome"] for line, dec in outs.items()} == r["outcomes"]
    dec = g.nodes["decision:UW-THY-02:medical"]
    assert (dec["decision"], dec["exclusion"], dec["clause_id"]) == ("exclusion", "EX-THYROID", "UW-THY-02")
    dec = g.nodes["decision:UW-HTN-02:ltc"]
    assert (dec["decision"], dec["loading_pct"]) == ("loading", 50)
    dec = g.nodes["decision:UW-THY-03:critical_illness"]
    assert (dec["decision"], dec["postpone_months"]) == ("postpone", 6)
    imposed = {(g.nodes[v]["clause_id"], d["line"]) for v, d in out_rel(g, "rule:UW-THY-02", "imposes")}
    assert imposed == {("EX-THYROID", "medical"), ("EX-THYROID-CA", "critical_illness")}
    assert n_rules == sum(1 for _, d in g.nodes(data=True) if d["kind"] == "rule" and d.get("condition"))


def test_parse_outcome():
    assert kg.parse_outcome("standard")["decision"] == "standard"
    assert kg.parse_outcome("loading:25")["loading_pct"] == 25
    assert kg.parse_outcome("exclude:EX-HTN") == {"outcome": "exclude:EX-HTN", "decision": "exclusion",
                                                  "loading_pct": None, "postpone_months": None, "exclusion": "EX-HTN"}
    assert kg.parse_outcome("postpone:3")["postpone_months"] == 3
    assert kg.parse_outcome("decline")["decision"] == "decline"


def test_programme_applies_to(g, catalog):
    for key, prog in catalog["programmes"].items():
        targets = [g.nodes[v]["product_id"] for v, _ in out_rel(g, f"programme:{key}", "applies_to")]
        assert targets == prog["eligible_products"]
        assert g.nodes[f"programme:{key}"]["clause_id"] == f"PRG-{key}"


def test_line_requirement(g):
    rule = g.nodes["rule:UW-ELIG-DM"]
    assert rule["requires_condition"] == "type2_diabetes"
    assert ("condition:type2_diabetes", ) == tuple(v for v, _ in out_rel(g, "line:diabetes_care", "requires_condition"))


# --------------------------------------------------------------------------- queries


def test_covers_flight_delay(g):
    res = kg.products_covering(g, "flight delay")
    assert res[0]["product_id"] == "FLT-800"
    assert res[0]["coverage_code"] == "DELAY" and res[0]["clause_id"] == "FLT-800-COV-DELAY"
    assert kg.products_covering(g, "航班延误")[0]["product_id"] == "FLT-800"


def test_covers_hospital(g):
    res = kg.products_covering(g, "住院")
    ids = [r["product_id"] for r in res]
    assert ids[0] == "MED-100"
    assert "DM-400" in ids
    med = res[0]
    assert any(c["clause_id"] == "MED-100-COV-GEN_MED" for c in med["coverages"])
    assert set(ids) <= {"MED-100", "DM-400"}


def test_covers_cancer_care_theft(g):
    cancer = {r["product_id"]: r for r in kg.products_covering(g, "cancer")}
    assert {"CI-200", "MED-100"} <= set(cancer)
    assert cancer["CI-200"]["coverage_code"] == "SEVERE_CI"
    care = kg.products_covering(g, "护理")
    assert care[0]["product_id"] == "LTC-500" and care[0]["clause_id"] == "LTC-500-COV-MONTHLY_CARE"
    theft = kg.products_covering(g, "theft")
    assert [r["product_id"] for r in theft] == ["HOME-700"]
    assert theft[0]["coverage_code"] == "CONTENTS"
    assert kg.products_covering(g, "盗窃")[0]["clause_id"] == "HOME-700-COV-CONTENTS"


def test_covers_product_type_and_lang(g):
    res = kg.products_covering(g, "重疾险")
    assert res[0]["product_id"] == "CI-200"
    # lang picks the texts matched; zh words still reach English texts through synonyms
    en_only = kg.products_covering(g, "住院", lang="en")
    assert en_only[0]["product_id"] == "MED-100"
    assert kg.products_covering(g, "inpatient", lang="zh")[0]["product_id"] == "MED-100"
    assert kg.products_covering(g, "百万医疗", lang="zh")[0]["product_id"] == "MED-100"
    assert kg.products_covering(g, "星衡安心", lang="en") == []
    assert kg.products_covering(g, "星衡安心", lang="zh")[0]["product_id"] == "MED-100"
    assert kg.products_covering(g, "flight delay", lang="en")[0]["product_id"] == "FLT-800"
    assert kg.products_covering(g, "") == []
    assert kg.products_covering(g, "xylophone") == []


def test_exclusion_phrase_drunk_driving(g, catalog):
    res = kg.exclusion_applies_to(g, "酒驾")
    ids = {m["clause_id"] for m in res["matches"]}
    assert {"MED-100-EXC-05", "CI-200-EXC-04", "TL-300-EXC-04", "DM-400-EXC-05", "ACC-110-EXC-02", "UBI-600-EXC-01"} <= ids
    assert "UBI-600" in res["products"] and "FLT-800" not in res["products"]
    assert set(res["clause_ids"]) >= ids


def test_exclusion_phrase_suicide_war(g, catalog):
    sui = kg.exclusion_applies_to(g, "suicide")
    expected = {e["id"] for p in catalog["products"] for e in p["exclusions"] if "suicide" in e["en"]}
    assert {m["clause_id"] for m in sui["matches"]} == expected
    war = kg.exclusion_applies_to(g, "war")
    expected_products = {p["id"] for p in catalog["products"] if any("war" in e["en"].split(", ")[0] or e["en"].startswith("war")
                                                                  or ", war" in e["en"] for e in p["exclusions"])}
    assert set(war["products"]) == expected_products
    assert "RSI-900" not in war["products"]
    assert {m["clause_id"] for m in kg.exclusion_applies_to(g, "战争")["matches"]} == {m["clause_id"] for m in war["matches"]}


def test_exclusion_ids(g):
    ex = kg.exclusion_applies_to(g, "EX-THYROID")
    assert ex["matches"][0]["kind"] == "uw_exclusion"
    assert ex["rule_ids"] == ["UW-THY-02", "UW-THY-03"]
    assert ex["products"] == ["MED-100"]
    ex = kg.exclusion_applies_to(g, "MED-100-EXC-07")
    assert ex["matches"][0]["product_id"] == "MED-100"
    similar = {s["clause_id"] for s in ex["matches"][0]["similar"]}
    assert {"CI-200-EXC-05", "TL-300-EXC-05", "ACC-110-EXC-05"} <= similar
    thyroid = kg.exclusion_applies_to(g, "甲状腺")
    assert {"EX-THYROID", "EX-THYROID-CA"} <= {m["clause_id"] for m in thyroid["matches"]}
    assert set(thyroid["products"]) == {"MED-100", "CI-200"}
    assert kg.exclusion_applies_to(g, "xylophone")["matches"] == []


def test_claim_documents(g, catalog):
    res = kg.claim_documents_for(g, "CI-200", "DEATH")
    ids = [d["id"] for d in res["documents"]]
    assert "DOC-DEATH-CERT" in ids and "DOC-RELATION" in ids
    assert ids[: len(catalog["products"][1]["claim_documents"])] == catalog["products"][1]["claim_documents"]
    death = next(d for d in res["documents"] if d["id"] == "DOC-DEATH-CERT")
    assert death == {"id": "DOC-DEATH-CERT", "name_zh": "死亡证明", "name_en": "death certificate",
                     "required": "conditional", "claim_types": ["DEATH"]}
    assert res["clause_id"] == "CI-200-CLAIM-DOCS"
    plain = kg.claim_documents_for(g, "CI-200")
    assert "DOC-DEATH-CERT" not in [d["id"] for d in plain["documents"]]
    assert plain["conditional"][0]["claim_type"] == "DEATH"
    med = [d["id"] for d in kg.claim_documents_for(g, "MED-100", "CI_MED")["documents"]]
    assert {"DOC-PATHOLOGY", "DOC-IMAGING"} <= set(med)
    tpd = [d["id"] for d in kg.claim_documents_for(g, "TL-300", "TPD")["documents"]]
    assert "DOC-DISABILITY-ASSESS" in tpd
    assert "DOC-DISABILITY-ASSESS" not in [d["id"] for d in kg.claim_documents_for(g, "TL-300", "DEATH")["documents"]]
    assert kg.claim_documents_for(g, "ACC-110", "身故")["matched_claim_types"] == ["DEATH"]
    assert kg.claim_documents_for(g, "HOME-700", "theft")["matched_claim_types"] == ["CONTENTS_THEFT"]
    assert kg.claim_documents_for(g, "med-100")["product_id"] == "MED-100"
    with pytest.raises(ToolError) as err:
        kg.claim_documents_for(g, "NOPE-1")
    assert err.value.code == "UNKNOWN_PRODUCT"


def test_products_for_condition_outcomes(g, uw):
    res = kg.products_for_condition(g, "甲状腺结节")
    assert res["condition"] == "thyroid_nodule" and res["evaluated"] is False
    by = {p["product_id"]: p for p in res["products"]}
    assert set(by) == set(filing.products())
    med = by["MED-100"]
    assert [(o["rule_id"], o["outcome"]) for o in med["outcomes"]] == [
        (r["rule_id"], r["outcomes"]["medical"]) for r in uw["conditions"]["thyroid_nodule"]["rules"]]
    assert med["available"] and med["best"] == "standard" and med["worst"] == "postpone:6"
    assert by["ACC-110"]["always_standard"] is True
    for pid in uw["not_underwritten"]["products"]:
        assert by[pid]["decision"] == "not_applicable" and by[pid]["available"] is True
    assert by["DM-400"]["requires"][0]["rule_id"] == "UW-ELIG-DM"
    assert {"UW-THY-02", "EX-THYROID"} <= set(res["clause_ids"])
    assert res["inputs_spec"]["tirads"]["type"] == "enum"


def test_products_for_condition_names(g):
    assert kg.products_for_condition(g, "hypertension")["condition"] == "hypertension"
    assert kg.products_for_condition(g, "high blood pressure")["condition"] == "hypertension"
    assert kg.products_for_condition(g, "我有高血压")["condition"] == "hypertension"
    sle = {p["product_id"]: p for p in kg.products_for_condition(g, "systemic_lupus")["products"]}
    assert sle["MED-100"]["available"] is False and sle["ACC-110"]["available"] is True
    with pytest.raises(ToolError) as err:
        kg.products_for_condition(g, "xylophone syndrome")
    assert err.value.code == "UNKNOWN_CONDITION"


def test_products_for_condition_with_inputs_uses_engine(g, monkeypatch):
    calls = []

    class Result:
        def __init__(self, pid):
            self.decision = "exclusion" if pid == "MED-100" else "standard"
            self.total_loading_pct = 0
            self.exclusions = ["EX-THYROID"] if pid == "MED-100" else []
            self.postpone_months = None
            self.rule_hits = [{"rule_id": "UW-THY-02", "line": "medical"}]

    def underwrite(product_id, declarations):
        calls.append((product_id, declarations))
        return Result(product_id)

    fake = types.ModuleType("anxin.tools.underwriting")
    fake.underwrite = underwrite
    monkeypatch.setitem(sys.modules, "anxin.tools.underwriting", fake)
    res = kg.products_for_condition(g, "thyroid_nodule", {"tirads": "3"})
    assert res["evaluated"] is True
    assert ("MED-100", [{"condition": "thyroid_nodule", "tirads": "3"}]) in calls
    assert {c[0] for c in calls} == {p for p, d in filing.products().items() if d["underwriting_line"] != "none"}
    med = next(p for p in res["products"] if p["product_id"] == "MED-100")
    assert med["exclusions"] == ["EX-THYROID"] and med["rule_hits"][0]["rule_id"] == "UW-THY-02"
    assert med["exclusion_names"][0]["name_zh"] == "甲状腺疾病及其并发症"
    flt = next(p for p in res["products"] if p["product_id"] == "FLT-800")
    assert flt["decision"] == "not_applicable"


def test_products_for_condition_real_engine(g):
    pytest.importorskip("anxin.tools.underwriting")
    res = kg.products_for_condition(g, "thyroid_nodule", {"tirads": "3"})
    by = {p["product_id"]: p for p in res["products"]}
    assert by["MED-100"]["decision"] == "exclusion"
    assert by["MED-100"]["exclusions"] == ["EX-THYROID"]
    assert by["CI-200"]["exclusions"] == ["EX-THYROID-CA"]
    assert by["TL-300"]["decision"] == "standard"
    assert by["DM-400"]["decision"] == "decline"  # type2_diabetes not declared (UW-ELIG-DM)
    assert by["FLT-800"]["decision"] == "not_applicable"
    assert "UW-THY-02" in res["clause_ids"]
    htn = {p["product_id"]: p for p in kg.products_for_condition(g, "高血压", {"grade": 2, "controlled": True})["products"]}
    assert htn["CI-200"]["decision"] == "loading" and htn["CI-200"]["total_loading_pct"] == 30


def test_neighbours(g):
    cov = kg.neighbours(g, "MED-100-COV-GEN_MED")
    ids = [n["clause_id"] for n in cov]
    assert ids[0].startswith("MED-100-EXC-")
    assert {"MED-100-EXC-02", "MED-100-WAITING", "MED-100-DEDUCTIBLE", "MED-100-CLAIM-SETTLEMENT"} <= set(ids)
    assert "MED-100-COV-GEN_MED" not in ids
    assert all(i.startswith("MED-100-") or i.startswith("GEN-") or i.startswith("PRG-") for i in ids)
    exc = [n["clause_id"] for n in kg.neighbours(g, "MED-100-EXC-02", limit=4)]
    assert len(exc) == 4 and exc[0] == "MED-100-COV-GEN_MED"
    assert "GEN-WAITING" in [n["clause_id"] for n in kg.neighbours(g, "MED-100-WAITING")]
    assert "UW-ELIG-DM" in [n["clause_id"] for n in kg.neighbours(g, "DM-400-ELIGIBILITY")]
    assert "PRG-HBB" in [n["clause_id"] for n in kg.neighbours(g, "MED-100-RATING")]
    rule = [n["clause_id"] for n in kg.neighbours(g, "UW-THY-02")]
    assert rule[:2] == ["EX-THYROID", "EX-THYROID-CA"] and "UW-THY-01" in rule
    assert [n["clause_id"] for n in kg.neighbours(g, "EX-THYROID")][:2] == ["UW-THY-02", "UW-THY-03"]
    gen = {n["clause_id"] for n in kg.neighbours(g, "GEN-COOLING-OFF")}
    assert {f"{pid}-COOLING-OFF" for pid in filing.products()} == gen
    assert {n["clause_id"] for n in kg.neighbours(g, "PRG-HBB")} == {"MED-100-RATING", "DM-400-RATING", "ACC-110-RATING"}
    assert kg.neighbours(g, "NOPE-1") == []


def test_graphml_round_trip(g, tmp_path):
    path = tmp_path / "kg.graphml"
    kg.export_graphml(g, str(path))
    h = nx.read_graphml(str(path))
    assert h.number_of_nodes() == g.number_of_nodes()
    assert h.number_of_edges() == g.number_of_edges()
    assert h.nodes["product:MED-100"]["name_zh"] == g.nodes["product:MED-100"]["name_zh"]
    assert h.nodes["decision:UW-HTN-02:ltc"]["loading_pct"] == 50
    assert json.loads(h.nodes["rule:UW-THY-02"]["when"]) == {"tirads": ["3"]}
    rels = {d["rel"] for _, _, d in h.edges(data=True)}
    assert {"has_coverage", "defined_in", "has_exclusion", "requires_document", "in_line", "has_rule",
            "outcome", "imposes", "applies_to", "has_clause"} <= rels


def test_generic_for_another_filing(catalog, uw):
    """Nothing is keyed to our product ids: rename every product and the graph follows."""
    rename = {p["id"]: f"ZZ-{i}" for i, p in enumerate(catalog["products"])}

    def sub(node):
        if isinstance(node, dict):
            return {sub(k): sub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [sub(v) for v in node]
        if isinstance(node, str):
            for old, new in rename.items():
                node = node.replace(old, new)
        return node

    cat2, uw2 = sub(copy.deepcopy(catalog)), sub(copy.deepcopy(uw))
    g2 = kg.build_graph(cat2, uw2)
    flt = rename["FLT-800"]
    assert kg.products_covering(g2, "flight delay")[0]["clause_id"] == f"{flt}-COV-DELAY"
    ci = rename["CI-200"]
    assert "DOC-DEATH-CERT" in [d["id"] for d in kg.claim_documents_for(g2, ci, "DEATH")["documents"]]
    med = rename["MED-100"]
    res = kg.products_for_condition(g2, "thyroid_nodule")
    assert any(p["product_id"] == med and p["outcomes"][1]["exclusion"] == "EX-THYROID" for p in res["products"])


# --------------------------------------------------------------------------- CLI

runner = CliRunner()


@pytest.mark.parametrize("cmd", ["stats", "covers", "exclusion", "documents", "condition", "neighbours", "export"])
def test_cli_help(cmd):
    res = runner.invoke(app, [cmd, "--help"])
    assert res.exit_code == 0, res.output
    assert "--json" in res.output


def test_cli_queries():
    res = runner.invoke(app, ["covers", "flight delay", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)[0]["product_id"] == "FLT-800"
    res = runner.invoke(app, ["covers", "住院"])
    assert res.exit_code == 0 and "MED-100-COV-GEN_MED" in res.output
    res = runner.invoke(app, ["exclusion", "酒驾"])
    assert res.exit_code == 0 and "MED-100-EXC-05" in res.output
    res = runner.invoke(app, ["documents", "CI-200", "--claim-type", "DEATH", "--json"])
    assert res.exit_code == 0
    assert "DOC-DEATH-CERT" in [d["id"] for d in json.loads(res.output)["documents"]]
    res = runner.invoke(app, ["documents", "CI-200", "--claim-type", "DEATH"])
    assert "DOC-DEATH-CERT" in res.output and "死亡证明" in res.output
    res = runner.invoke(app, ["documents", "NOPE-1"])
    assert res.exit_code == 1
    res = runner.invoke(app, ["condition", "甲状腺结节"])
    assert res.exit_code == 0 and "UW-THY-02" in res.output
    res = runner.invoke(app, ["condition", "thyroid_nodule", "--json"])
    assert json.loads(res.output)["condition"] == "thyroid_nodule"
    res = runner.invoke(app, ["condition", "thyroid_nodule", "--inputs", "{not json"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["condition", "xylophone syndrome", "--json"])
    assert res.exit_code == 1 and json.loads(res.output)["error"]["code"] == "UNKNOWN_CONDITION"
    res = runner.invoke(app, ["neighbours", "MED-100-COV-GEN_MED", "--json", "--limit", "3"])
    assert res.exit_code == 0 and len(json.loads(res.output)) == 3
    res = runner.invoke(app, ["stats", "--json"])
    assert json.loads(res.output)["node_kinds"]["product"] == len(filing.products())
    assert "nodes" in runner.invoke(app, ["stats"]).output


def test_cli_export(tmp_path):
    path = tmp_path / "out.graphml"
    res = runner.invoke(app, ["export", str(path)])
    assert res.exit_code == 0, res.output
    assert nx.read_graphml(str(path)).number_of_nodes() > 0


def test_cli_condition_with_inputs():
    pytest.importorskip("anxin.tools.underwriting")
    res = runner.invoke(app, ["condition", "thyroid_nodule", "--inputs", '{"tirads": "3"}', "--json"])
    assert res.exit_code == 0, res.output
    by = {p["product_id"]: p for p in json.loads(res.output)["products"]}
    assert by["MED-100"]["exclusions"] == ["EX-THYROID"]
    res = runner.invoke(app, ["condition", "甲状腺结节", "--inputs", '{"tirads": "3"}'])
    assert res.exit_code == 0 and "EX-THYROID" in res.output
    res = runner.invoke(app, ["condition", "thyroid_nodule", "--inputs", '{"tirads": "9"}', "--json"])
    assert res.exit_code == 1 and json.loads(res.output)["error"]["code"] == "INVALID_VALUE"
