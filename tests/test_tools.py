"""The advisor's public tools: schemas (the spec's tool and argument names), results that
agree with the engines and the filing, structured errors for bad input (never a
traceback), the registry (OpenAI / LangChain forms), the `anxin tool` command and the
database-backed claim tools (verification, claim status, idempotent filing, hand-off)."""
from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from anxin.knowledge import filing
from anxin.knowledge.retrieval import SearchResult
from anxin.tools import pricing, registry
from anxin.tools.cli import app as tool_app
from anxin.tools.context import ToolContext

PRODUCTS = filing.products()
DEMO = filing.load_demo_data()
CUSTOMERS = {c["customer_id"]: c for c in DEMO["customers"]}
POLICIES = {p["policy_number"]: p for p in DEMO["policies"]}

# The spec's table (conversation-tests.md "Tool names and argument names"): tool -> (arguments, required)
CONTRACT: dict[str, tuple[set[str], set[str]]] = {
    "search_policy": ({"query", "product_id", "k"}, {"query"}),
    "quote": ({"product_id"}, {"product_id"}),
    "pre_underwrite": ({"product_id", "declarations", "age", "gender", "bmi"}, {"product_id", "declarations"}),
    "simulate_premium": ({"product_id", "base", "changes"}, {"product_id", "base", "changes"}),
    "recommend": ({"age", "gender", "income", "dependents", "existing_policies", "budget", "goals"}, set()),
    "claim_status": ({"policy_number", "claim_id", "id_last4", "name", "dob"}, set()),
    "file_claim": ({"policy_number", "claim_type", "incident_date", "amount", "description", "idempotency_key",
                    "id_last4", "name", "dob"}, {"policy_number", "claim_type"}),
    "handoff": ({"reason", "summary"}, {"reason"}),
}

root = typer.Typer()


@root.callback()
def _root() -> None:
    """A root app that mounts the tool app the way anxin/cli.py does."""


root.add_typer(tool_app, name="tool", help="Run one advisor tool.")
runner = CliRunner()


def cli(*args: str) -> Any:
    return runner.invoke(root, ["tool", *args])


def err(result: dict[str, Any]) -> dict[str, Any]:
    assert set(result) == {"error"}, result
    e = result["error"]
    assert {"code", "message", "message_zh", "message_en"} <= set(e)
    assert "Traceback" not in json.dumps(e)
    return e


def spec_params(pid: str) -> dict[str, Any]:
    return dict(PRODUCTS[pid]["rating"]["worked_example"]["params"])


# =========================================================================== schemas and registry

def test_registry_has_exactly_the_spec_tools() -> None:
    assert registry.names() == list(CONTRACT)
    assert set(registry.TOOLS) == set(CONTRACT)
    for name, mod in registry.TOOLS.items():
        assert mod.NAME == name
        assert len(mod.DESCRIPTION) > 200 and "Rules for the caller" in mod.DESCRIPTION
        assert callable(mod.run)


@pytest.mark.parametrize("name", list(CONTRACT))
def test_schema_is_valid_json_schema_with_the_public_argument_names(name: str) -> None:
    s = registry.schema(name)
    assert s["type"] == "function" and s["function"]["name"] == name
    assert s["function"]["description"] == registry.TOOLS[name].DESCRIPTION
    params = s["function"]["parameters"]
    Draft202012Validator.check_schema(params)
    assert params["type"] == "object"
    args, required = CONTRACT[name]
    assert args <= set(params["properties"]), set(params["properties"])
    assert set(params.get("required", [])) == required
    json.dumps(s)  # JSON-safe


def test_quote_schema_lists_every_rating_param_of_every_product() -> None:
    props = registry.parameters("quote")["properties"]
    for pid, prod in PRODUCTS.items():
        for p in prod["rating"]["params"]:
            assert p["name"] in props, (pid, p["name"])
            assert pid in props[p["name"]]["description"]
    assert {"birth_date", "start_date", "term_years"} <= set(props)
    assert props["product_id"]["enum"] == list(PRODUCTS)
    assert registry.parameters("quote")["additionalProperties"] is True


def test_descriptions_state_the_policies() -> None:
    d = {n: m.DESCRIPTION for n, m in registry.TOOLS.items()}
    assert "uw_loading_pct" in d["quote"] and "genetic" in d["quote"].lower()
    assert "never compute" in d["quote"].lower()
    assert "verification" in d["claim_status"] and "exists" in d["claim_status"]
    assert "confirm" in d["file_claim"].lower() or "explicit yes" in d["file_claim"]
    assert "idempotency_key" in d["file_claim"]
    assert "cite" in d["search_policy"].lower()
    assert "total_loading_pct" in d["pre_underwrite"]


def test_openai_schemas_and_unknown_tool() -> None:
    schemas = registry.openai_schemas()
    assert [s["function"]["name"] for s in schemas] == list(CONTRACT)
    e = err(registry.call("no_such_tool", {}))
    assert e["code"] == "UNKNOWN_TOOL"
    assert registry.resolve("pre-underwrite") == "pre_underwrite"
    with pytest.raises(Exception):
        registry.schema("nope")


def test_langchain_tools_call_through_the_registry() -> None:
    tools = registry.langchain_tools()
    assert [t.name for t in tools] == list(CONTRACT)
    quote_tool = tools[1]
    out = quote_tool.invoke(spec_params("MED-100") | {"product_id": "MED-100"})
    assert out["premium"] == 373.18
    bad = quote_tool.invoke({"product_id": "NOPE"})
    assert bad["error"]["code"] == "UNKNOWN_PRODUCT"
    assert "product_id" in quote_tool.args
    from langchain_core.utils.function_calling import convert_to_openai_tool

    assert convert_to_openai_tool(quote_tool)["function"]["name"] == "quote"


# =========================================================================== quote

@pytest.mark.parametrize("pid", list(PRODUCTS))
def test_quote_tool_reproduces_the_catalog_worked_examples(pid: str) -> None:
    we = PRODUCTS[pid]["rating"]["worked_example"]
    out = registry.call("quote", {"product_id": pid, **we["params"]})
    want = Decimal(str(we["premium"]))
    got = Decimal(str(out["premium"]))
    if pid == "TL-300":
        assert abs(got - want) <= Decimal("0.01")
    else:
        assert got == want
    assert [b["step"] for b in out["breakdown"]] == [s["id"] for s in PRODUCTS[pid]["rating"]["steps"]]
    json.dumps(out)


def test_quote_tool_equals_the_engine_and_reproduces_demo_policies() -> None:
    for pol in DEMO["policies"]:
        out = registry.call("quote", {"product_id": pol["product_id"], **pol["quote_params"]})
        assert "error" not in out, (pol["policy_number"], out)
        engine = pricing.quote(pol["product_id"], pol["quote_params"]).model_dump(mode="json")
        assert out == engine
        tol = Decimal("0.01") if pol["product_id"] == "TL-300" else Decimal(0)
        assert abs(Decimal(str(out["premium"])) - Decimal(str(pol["premium"]))) <= tol, pol["policy_number"]


def test_quote_accepts_a_json_string_and_aliases() -> None:
    out = registry.call("quote", json.dumps({"product_id": "med-100", "age": "30"}))
    assert out["product_id"] == "MED-100" and out["premium"] == registry.call("quote", {"product_id": "MED-100", "age": 30})["premium"]
    ci = spec_params("CI-200")
    term = ci.pop("payment_term")
    assert registry.call("quote", {"product_id": "CI-200", **ci, "term_years": term})["premium"] == 5352.96


# =========================================================================== bad input -> structured errors

@pytest.mark.parametrize("args,code,field", [
    ({"product_id": "XYZ-999", "age": 30}, "UNKNOWN_PRODUCT", "product_id"),
    ({"age": 30}, "MISSING_PARAM", "product_id"),
    ({"product_id": "MED-100"}, "MISSING_PARAM", "age"),
    ({"product_id": "MED-100", "age": 75}, "INELIGIBLE_AGE", "age"),
    ({"product_id": "MED-100", "age": -3}, "INVALID_VALUE", "age"),
    ({"product_id": "MED-100", "age": "thirty"}, "INVALID_VALUE", "age"),
    ({"product_id": "MED-100", "age": 30, "smoker": "yes"}, "INVALID_VALUE", "smoker"),
    ({"product_id": "MED-100", "age": 30, "sum_insured": 500000}, "INVALID_PARAM", "sum_insured"),
    ({"product_id": "CI-200", "age": 30, "gender": "F", "sum_insured": "五十万"}, "INVALID_VALUE", "sum_insured"),
    ({"product_id": "TL-300", "age": 30, "gender": "M", "sum_insured": "五十万"}, "INVALID_VALUE", "sum_insured"),
    ({"product_id": 42}, "INVALID_VALUE", "product_id"),
])
def test_quote_bad_inputs_are_structured_errors(args: dict[str, Any], code: str, field: str) -> None:
    e = err(registry.call("quote", args))
    assert e["code"] == code, e
    assert e["field"] == field
    assert " / " in e["message"]  # bilingual


def test_five_hundred_thousand_as_digits_works_but_not_as_words() -> None:
    base = {"product_id": "CI-200", "age": 30, "gender": "F"}
    ok = registry.call("quote", {**base, "sum_insured": 500000})
    assert ok["premium"] > 0
    assert registry.call("quote", {**base, "sum_insured": "500000"})["premium"] == ok["premium"]
    e = err(registry.call("quote", {**base, "sum_insured": "五十万"}))
    assert e["code"] == "INVALID_VALUE" and "五十万" in e["message"] and "digits" in e["message_en"]
    e = err(registry.call("simulate_premium", {"product_id": "CI-200", "base": {**base, "sum_insured": 300000},
                                                "changes": {"sum_insured": "五十万"}}))
    assert e["code"] == "INVALID_VALUE" and e["field"] == "sum_insured" and "digits" in e["message_en"]
    e = err(registry.call("quote", {"product_id": "TL-300", "age": 30, "gender": "M", "sum_insured": "五十万"}))
    assert "digits" in e["message_en"]


@pytest.mark.parametrize("raw", ["{not json", "", "[1, 2]", "42", "null x", '{"product_id": "MED-100",}'])
def test_malformed_json_is_malformed_request(raw: str) -> None:
    e = err(registry.call("quote", raw))
    assert e["code"] == "MALFORMED_REQUEST"


def test_unexpected_exception_is_internal_error_without_traceback(monkeypatch, caplog) -> None:
    from anxin.tools import quote as quote_tool

    def boom(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(quote_tool.pricing, "quote", boom)
    e = err(registry.call("quote", {"product_id": "MED-100", "age": 30}))
    assert e["code"] == "INTERNAL_ERROR"
    assert "secret" not in json.dumps(e) and "RuntimeError" not in json.dumps(e)
    assert any("secret internal detail" in (r.exc_text or "") or r.exc_info for r in caplog.records)


@pytest.mark.parametrize("name,args,code,field", [
    ("pre_underwrite", {"product_id": "MED-100"}, "MISSING_PARAM", "declarations"),
    ("pre_underwrite", {"product_id": "MED-100", "declarations": "thyroid"}, "INVALID_VALUE", "declarations"),
    ("pre_underwrite", {"product_id": "NOPE", "declarations": []}, "UNKNOWN_PRODUCT", None),
    ("pre_underwrite", {"product_id": "MED-100", "declarations": [{"condition": "flu"}]}, "UNKNOWN_CONDITION",
     "declarations[0].condition"),
    ("pre_underwrite", {"product_id": "MED-100", "declarations": [{"condition": "hypertension", "grade": 2}]},
     "MISSING_INPUT", "declarations[0].controlled"),
    ("pre_underwrite", {"product_id": "MED-100", "declarations": [], "age": "old"}, "INVALID_VALUE", "age"),
    ("simulate_premium", {"product_id": "MED-100", "base": {"age": 30}}, "MISSING_PARAM", "changes"),
    ("simulate_premium", {"product_id": "MED-100", "base": {"age": 30}, "changes": "smoker"}, "INVALID_VALUE", "changes"),
    ("simulate_premium", {"product_id": "MED-100", "base": {"age": 30}, "changes": {"age": 99}}, "INELIGIBLE_AGE", "age"),
    ("search_policy", {}, "MISSING_PARAM", "query"),
    ("search_policy", {"query": "x", "k": 0}, "INVALID_VALUE", "k"),
    ("search_policy", {"query": "x", "colour": 1}, "INVALID_PARAM", "colour"),
    ("recommend", {"income": "三十万"}, "INVALID_VALUE", "income"),
    ("recommend", {"age": 200}, "INVALID_VALUE", "age"),
    ("recommend", {"hobby": "golf"}, "INVALID_PARAM", "hobby"),
    ("claim_status", {"id_last4": "1234", "dob": "1990-01-01"}, "MISSING_PARAM", "policy_number"),
    ("file_claim", {"policy_number": "XH-MED100-2026-000102"}, "MISSING_PARAM", "claim_type"),
    ("file_claim", {"policy_number": "XH-MED100-2026-000102", "claim_type": "GEN_MED", "amount": "一万"},
     "INVALID_VALUE", "amount"),
    ("file_claim", {"policy_number": "XH-MED100-2026-000102", "claim_type": "GEN_MED", "amount": -5},
     "INVALID_VALUE", "amount"),
    ("file_claim", {"policy_number": "XH-MED100-2026-000102", "claim_type": "GEN_MED",
                    "incident_date": "2027-01-15", "id_last4": "3918", "name": "张伟"}, "INVALID_VALUE", "incident_date"),
    ("file_claim", {"policy_number": "XH-MED100-2026-000102", "claim_type": "GEN_MED",
                    "incident_date": "yesterday-ish"}, "INVALID_VALUE", "incident_date"),
    ("handoff", {}, "MISSING_PARAM", "reason"),
    ("handoff", {"reason": "   "}, "INVALID_VALUE", "reason"),
])
def test_other_tools_bad_inputs(name: str, args: dict[str, Any], code: str, field: str | None) -> None:
    e = err(registry.call(name, args))
    assert e["code"] == code, e
    if field:
        assert e.get("field") == field, e


def test_future_incident_date_is_refused_before_anything_is_looked_up() -> None:
    # no database is needed: the date is checked first, so nothing about the policy leaks
    ctx = ToolContext(session_id="t", db_factory=lambda: (_ for _ in ()).throw(AssertionError("no db")))
    e = err(registry.call("file_claim", {"policy_number": "XH-NOPE", "claim_type": "GEN_MED",
                                         "incident_date": "2026-11-02"}, ctx))
    assert e["code"] == "INVALID_VALUE" and e["field"] == "incident_date" and "future" in e["message_en"]


# =========================================================================== pre_underwrite / simulate / genetic

def test_pre_underwrite_reproduces_the_demo_policies_decisions() -> None:
    for pol in DEMO["policies"]:
        uw = pol.get("underwriting")
        if not uw:
            continue
        out = registry.call("pre_underwrite", {"product_id": pol["product_id"], "declarations": uw["declarations"]})
        assert out["decision"] == uw["decision"], pol["policy_number"]
        assert [h["rule_id"] for h in out["rule_hits"]] == uw["rule_ids"]
        assert out["total_loading_pct"] == pol["quote_params"].get("uw_loading_pct", 0)


def test_pre_underwrite_then_quote_with_its_loading() -> None:
    uw = registry.call("pre_underwrite", {"product_id": "TL-300", "age": 45, "gender": "M", "declarations": [
        {"condition": "hypertension", "grade": 2, "controlled": True}, {"condition": "smoking", "cigarettes_per_day": 10}]})
    assert uw["decision"] == "loading" and uw["quote_params"] == {"uw_loading_pct": uw["total_loading_pct"]}
    base = {"product_id": "TL-300", "age": 45, "gender": "M", "sum_insured": 500000}
    plain = registry.call("quote", base)
    loaded = registry.call("quote", {**base, **uw["quote_params"]})
    assert loaded["premium"] > plain["premium"]
    assert loaded == pricing.quote("TL-300", {**base, **uw["quote_params"]}).model_dump(mode="json")


def test_pre_underwrite_bmi_from_applicant_fields_and_not_applicable() -> None:
    out = registry.call("pre_underwrite", {"product_id": "MED-100", "declarations": [], "height_cm": 170, "weight_kg": 65})
    assert out["decision"] == "standard" and out["rule_hits"][0]["condition"] == "bmi"
    na = registry.call("pre_underwrite", {"product_id": "UBI-600", "declarations": []})
    assert na["decision"] == "not_applicable"


def test_simulate_premium_delta() -> None:
    base = spec_params("MED-100")
    out = registry.call("simulate_premium", {"product_id": "MED-100", "base": base, "changes": {"smoker": False}})
    before = registry.call("quote", {"product_id": "MED-100", **base})["premium"]
    after = registry.call("quote", {"product_id": "MED-100", **base, "smoker": False})["premium"]
    assert out["before_premium"] == before == 373.18 and out["after_premium"] == after
    assert Decimal(str(out["delta"])) == Decimal(str(after)) - Decimal(str(before))
    assert out["delta_pct"] == float((Decimal(str(out["delta"])) / Decimal(str(before)) * 100).quantize(Decimal("0.01")))
    assert out["effective"] and out["effective"][0]["key"] == "smoker"


def test_genetic_inputs_are_refused_everywhere() -> None:
    params = {"product_id": "MED-100", **spec_params("MED-100")}
    clean = registry.call("quote", params)
    g = registry.call("quote", {**params, "brca1": "positive", "genetic_risk": "high"})
    assert sorted(g["refused_inputs"]) == ["brca1", "genetic_risk"]
    assert g["premium"] == clean["premium"] and g["breakdown"] == clean["breakdown"]
    assert any(n.get("code") == "GENETIC_INPUT_REFUSED" for n in g["notices"])

    decls = [{"condition": "thyroid_nodule", "tirads": "3"}]
    uw_clean = registry.call("pre_underwrite", {"product_id": "CI-200", "declarations": decls})
    uw = registry.call("pre_underwrite", {"product_id": "CI-200", "dna_test": "x", "declarations": [
        *decls, {"condition": "brca1", "result": "positive"}]})
    assert set(uw["refused_inputs"]) == {"dna_test", "brca1"}
    assert uw["decision"] == uw_clean["decision"] and uw["exclusions"] == uw_clean["exclusions"]

    sim = registry.call("simulate_premium", {"product_id": "MED-100", "base": spec_params("MED-100"),
                                              "changes": {"polygenic_risk_score": 0.9}})
    assert sim["delta"] == 0 and sim["after"]["refused_inputs"] == ["polygenic_risk_score"]

    rec = registry.call("recommend", {"age": 35, "genome_sequencing": "done"})
    assert rec["refused_inputs"] == ["genome_sequencing"]
    assert rec["recommendations"] == registry.call("recommend", {"age": 35})["recommendations"]


# =========================================================================== recommend / search_policy

def test_recommend_tool_matches_the_engine() -> None:
    from anxin.tools.needs_analysis import recommend

    args = {"age": 35, "gender": "F", "income": 300000, "dependents": 2, "budget": 8000,
            "goals": ["medical", "protect my family"], "existing_policies": ["MED-100"]}
    out = registry.call("recommend", args)
    assert out == recommend(**args).model_dump(mode="json")
    assert "MED-100" not in [r["product_id"] for r in out["recommendations"]]
    # a single comma-separated string is accepted for the list arguments
    assert registry.call("recommend", {**args, "goals": "medical, protect my family"})["recommendations"] == out["recommendations"]


class _FakeSearcher:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str | None]] = []

    def search(self, query: str, k: int = 5, product: str | None = None) -> list[SearchResult]:
        self.calls.append((query, k, product))
        return [SearchResult(rank=1, doc="MED-100_zh", clause_id="MED-100-WAITING", heading="等待期",
                             text="等待期为30日。", score=0.5, product_id="MED-100", language="zh")][:k]


def test_search_policy_returns_citable_clauses() -> None:
    fake = _FakeSearcher()
    ctx = ToolContext(searcher=fake)
    out = registry.call("search_policy", {"query": "等待期多久", "product_id": "med-100", "k": 3}, ctx)
    assert fake.calls == [("等待期多久", 3, "MED-100")]
    assert out["citations"] == ["MED-100-WAITING"]
    assert out["results"][0]["text"] == "等待期为30日。" and out["results"][0]["rank"] == 1


def test_search_policy_on_a_real_collection(tmp_path: Path, collection_name: str) -> None:
    from anxin.knowledge.ingest import ingest

    doc = tmp_path / "gamma.md"
    doc.write_text("---\ndoc_id: GAMMA-1\nproduct_id: GAMMA-1\nlanguage: zh\ntitle: 伽马医疗保险条款\n---\n"
                   "# 伽马医疗保险条款\n\n## GAMMA-1-WAITING 等待期\n自合同生效之日起30日为等待期。\n\n"
                   "## GAMMA-1-COOLING-OFF 犹豫期\n签收保单次日起15日内为犹豫期，可全额退还保费。\n", encoding="utf-8")
    assert not ingest([doc], collection_name).errors
    out = registry.call("search_policy", {"query": "买了不想要了能退钱吗", "k": 2}, ToolContext(collection=collection_name))
    assert out["results"][0]["clause_id"] == "GAMMA-1-COOLING-OFF"
    assert out["citations"][0] == "GAMMA-1-COOLING-OFF"


# =========================================================================== CLI

def test_cli_single_call_prints_json_and_exits_0() -> None:
    r = cli("quote", json.dumps({"product_id": "MED-100", **spec_params("MED-100")}))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["premium"] == 373.18
    r = cli("quote", '{"product_id": "MED-100", "age": 30}', "--compact")
    assert r.exit_code == 0 and len(r.stdout.strip().splitlines()) == 1


@pytest.mark.parametrize("args,code", [
    (["quote", "{bad json"], "MALFORMED_REQUEST"),
    (["quote", "[1,2]"], "MALFORMED_REQUEST"),
    (["quote", '{"product_id": "NOPE"}'], "UNKNOWN_PRODUCT"),
    (["quote", '{"product_id": "MED-100", "age": 130}'], "INELIGIBLE_AGE"),
    (["quote", '{"product_id": "CI-200", "age": 30, "gender": "F", "sum_insured": "五十万"}'], "INVALID_VALUE"),
    (["quote"], "MISSING_PARAM"),
    (["no_such_tool", "{}"], "UNKNOWN_TOOL"),
    (["file_claim", '{"policy_number": "X", "claim_type": "GEN_MED", "incident_date": "2030-01-01"}'], "INVALID_VALUE"),
    (["quote", '{"product_id": "MED-100"}', "--batch", "x.jsonl"], "MALFORMED_REQUEST"),
    (["schema", "nope"], "UNKNOWN_TOOL"),
])
def test_cli_errors_are_json_with_exit_code_2(args: list[str], code: str) -> None:
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    e = json.loads(r.stdout)["error"]
    assert e["code"] == code
    assert e["message"] and e["message_zh"] and e["message_en"]


def test_cli_batch_keeps_order_and_reports_errors_inline(tmp_path: Path) -> None:
    lines = [
        json.dumps({"product_id": "MED-100", "age": 30}),
        "not json",
        "",
        json.dumps({"product_id": "NOPE"}),
        "   ",
        json.dumps({"product_id": "MED-100", **spec_params("MED-100")}),
        "[1]",
        json.dumps({"product_id": "CI-200", **spec_params("CI-200")}),
    ]
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = cli("quote", "--batch", str(f))
    assert r.exit_code == 0, r.output
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(out) == 6  # one per non-blank line
    assert out[0]["premium"] == registry.call("quote", {"product_id": "MED-100", "age": 30})["premium"]
    assert out[1]["error"]["code"] == "MALFORMED_REQUEST" and "line 2" in out[1]["error"]["message_en"]
    assert out[2]["error"]["code"] == "UNKNOWN_PRODUCT"
    assert out[3]["premium"] == 373.18
    assert out[4]["error"]["code"] == "MALFORMED_REQUEST"
    assert out[5]["premium"] == 5352.96


def test_cli_batch_unreadable_file_exits_2(tmp_path: Path) -> None:
    r = cli("quote", "--batch", str(tmp_path / "missing.jsonl"))
    assert r.exit_code == 2
    assert json.loads(r.stdout)["error"]["code"] == "MALFORMED_REQUEST"


def test_cli_list_schema_help_and_hyphenated_names() -> None:
    r = cli("--list")
    assert r.exit_code == 0 and [line.split()[0] for line in r.stdout.splitlines()] == list(CONTRACT)
    r = cli("schema", "quote")
    assert r.exit_code == 0 and json.loads(r.stdout)["function"]["name"] == "quote"
    r = cli("schema")
    assert [s["function"]["name"] for s in json.loads(r.stdout)] == list(CONTRACT)
    for name in CONTRACT:
        h = cli(name, "--help")
        assert h.exit_code == 0 and "Usage" in h.output and "--batch" in h.output
    r = cli("pre-underwrite", '{"product_id": "MED-100", "declarations": []}')
    assert r.exit_code == 0 and json.loads(r.stdout)["decision"] == "standard"
    r = cli()
    assert r.exit_code == 0 and "Usage" in r.output


def test_cli_reads_arguments_from_stdin() -> None:
    r = runner.invoke(root, ["tool", "quote", "-"], input='{"product_id": "MED-100", "age": 30}')
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["product_id"] == "MED-100"


# =========================================================================== database-backed tools

@pytest.fixture(scope="module")
def db_url(tmp_path_factory) -> Any:
    pytest.importorskip("anxin.db.claims")
    from anxin.db import ensure_database
    from anxin.db.engine import dispose_engines

    path = tmp_path_factory.mktemp("tools-db") / "anxin.db"
    url = f"sqlite:///{path}"
    ensure_database(url)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANXIN_DB_URL", url)  # what the CLI's default context uses
        yield url
    dispose_engines()


def _ctx(url: str, **kw: Any) -> ToolContext:
    from anxin.db.engine import session_scope

    return ToolContext(session_id=kw.pop("session_id", f"t-{uuid.uuid4().hex[:8]}"),
                       db_factory=lambda: session_scope(url), **kw)


def _person(policy_number: str, who: str = "policyholder_id") -> dict[str, Any]:
    return CUSTOMERS[POLICIES[policy_number][who]]


CI_POLICY = "XH-CI200-2016-000123"  # C011, claim CLM-2026-0008 under review
MED_POLICY = "XH-MED100-2026-000102"  # C001, active


def test_claim_status_requires_verification_and_then_remembers_it(db_url: str) -> None:
    ctx = _ctx(db_url)
    e = err(registry.call("claim_status", {"policy_number": CI_POLICY}, ctx))
    assert e["code"] == "NOT_VERIFIED"
    p = _person(CI_POLICY)
    out = registry.call("claim_status", {"policy_number": CI_POLICY, "id_last4": p["id_last4"], "dob": p["dob"]}, ctx)
    assert out["policy_number"] == CI_POLICY and out["customer_id"] == p["customer_id"]
    assert "CLM-2026-0008" in [c["claim_id"] for c in out["claims"]]
    assert ctx.verified
    # verified once per session: no credentials needed for the next question
    again = registry.call("claim_status", {"claim_id": "CLM-2026-0008"}, ctx)
    assert again["claim"]["status"]["code"] == "under_review"
    # ...but not for someone else's policy
    e = err(registry.call("claim_status", {"policy_number": MED_POLICY}, ctx))
    assert e["code"] in ("FORBIDDEN", "NOT_FOUND")
    # a new context for the same session id restores it only when asked to
    assert err(registry.call("claim_status", {"claim_id": "CLM-2026-0008"},
                             _ctx(db_url, session_id=ctx.session_id)))["code"] == "NOT_VERIFIED"
    restored = _ctx(db_url, session_id=ctx.session_id, restore_identity=True)
    assert registry.call("claim_status", {"claim_id": "CLM-2026-0008"}, restored)["claim_id"] == "CLM-2026-0008"


def test_failed_verification_never_reveals_whether_the_policy_exists(db_url: str) -> None:
    p = _person(MED_POLICY)
    real = err(registry.call("claim_status", {"policy_number": MED_POLICY, "id_last4": "0000", "name": p["name"]["zh"]},
                             _ctx(db_url)))
    fake = err(registry.call("claim_status", {"policy_number": "XH-MED100-2026-999999", "id_last4": "0000",
                                              "name": p["name"]["zh"]}, _ctx(db_url)))
    assert real["code"] == fake["code"] == "VERIFICATION_FAILED"
    assert real["message"] == fake["message"]
    assert MED_POLICY not in json.dumps(real)
    e = err(registry.call("claim_status", {"policy_number": MED_POLICY, "id_last4": p["id_last4"]}, _ctx(db_url)))
    assert e["code"] == "MISSING_PARAM" and e["field"] == "name"


def test_verification_by_name_and_by_english_name(db_url: str) -> None:
    p = _person(MED_POLICY)
    for name in (p["name"]["zh"], p["name"]["en"]):
        out = registry.call("claim_status", {"policy_number": MED_POLICY, "id_last4": p["id_last4"], "name": name},
                            _ctx(db_url))
        assert out["policy_number"] == MED_POLICY, out


def test_file_claim_is_idempotent_through_the_cli(db_url: str) -> None:
    p = _person(MED_POLICY)
    key = f"key-{uuid.uuid4().hex}"
    args = {"policy_number": MED_POLICY, "claim_type": "GEN_MED", "incident_date": "2026-10-20", "amount": 12000,
            "description": "hospitalised for pneumonia (illness)", "idempotency_key": key,
            "id_last4": p["id_last4"], "dob": p["dob"]}
    first = cli("file_claim", json.dumps(args, ensure_ascii=False))
    assert first.exit_code == 0, first.output
    a = json.loads(first.stdout)
    assert a["filed"] is True and a["claim_id"].startswith("CLM-") and a["idempotent_replay"] is False
    second = cli("file_claim", json.dumps(args, ensure_ascii=False))
    assert second.exit_code == 0, second.output
    b = json.loads(second.stdout)
    assert b["claim_id"] == a["claim_id"] and b["idempotent_replay"] is True
    # the claim is visible through claim_status afterwards
    st = cli("claim_status", json.dumps({"claim_id": a["claim_id"], "id_last4": p["id_last4"], "name": p["name"]["zh"]},
                                        ensure_ascii=False))
    assert st.exit_code == 0, st.output
    assert json.loads(st.stdout)["claim"]["claim_id"] == a["claim_id"]
    # and a fresh key files a new claim
    third = json.loads(cli("file_claim", json.dumps({**args, "idempotency_key": key + "-2"})).stdout)
    assert third["claim_id"] != a["claim_id"]


def test_cli_claim_tools_need_credentials_each_call(db_url: str) -> None:
    p = _person(CI_POLICY)
    ok = cli("claim_status", json.dumps({"policy_number": CI_POLICY, "id_last4": p["id_last4"], "dob": p["dob"]}))
    assert ok.exit_code == 0, ok.output
    r = cli("claim_status", json.dumps({"policy_number": CI_POLICY}))
    assert r.exit_code == 2 and json.loads(r.stdout)["error"]["code"] == "NOT_VERIFIED"
    r = cli("claim_status", json.dumps({"policy_number": CI_POLICY, "id_last4": "9999", "dob": p["dob"]}))
    assert r.exit_code == 2 and json.loads(r.stdout)["error"]["code"] == "VERIFICATION_FAILED"


def test_file_claim_rejects_a_wrong_coverage_code_after_verification(db_url: str) -> None:
    p = _person(MED_POLICY)
    e = err(registry.call("file_claim", {"policy_number": MED_POLICY, "claim_type": "hospital", "incident_date": "2026-10-01",
                                         "id_last4": p["id_last4"], "dob": p["dob"]}, _ctx(db_url)))
    assert e["code"] == "INVALID_VALUE" and e["field"] == "claim_type" and "GEN_MED" in e["message_en"]


def test_handoff_opens_a_ticket(db_url: str) -> None:
    ctx = _ctx(db_url)
    t = registry.call("handoff", {"reason": "customer_request", "summary": "wants to talk to a person"}, ctx)
    assert t["status"] == "open" and t["session_id"] == ctx.session_id and t["ticket_id"].startswith("HT-")
    again = registry.call("handoff", {"reason": "customer_request", "summary": "asked again"}, ctx)
    assert again["ticket_id"] == t["ticket_id"] and again["existing"] is True
    r = cli("handoff", json.dumps({"reason": "complaint", "summary": "angry"}))
    assert r.exit_code == 0 and json.loads(r.stdout)["status"] == "open"


# =========================================================================== bench

def test_bench_tools_smoke() -> None:
    pytest.importorskip("anxin.db.claims")
    from anxin.evals.bench_tools import bench_tools

    r = bench_tools(n=25, agreement_n=40)
    assert set(r["latency_ms"]) >= {"quote", "pre_underwrite", "claim_status"}
    for name, stats in r["latency_ms"].items():
        assert stats["n"] > 0 and 0 < stats["p50"] <= stats["p95"], name
    assert all(v == 0 for v in r["errors"].values()), r["errors"]
    assert {"MED-100", "CI-200"} <= set(r["agreement"]["products"])
    assert r["agreement"]["overall_pct"] == 100.0
