"""`anxin eval`: suite loading, every expectation key, pass^k, reports and the CLI contract.

Runs against a scripted fake advisor (the real one is not needed), so it is fast.
"""
from __future__ import annotations

import itertools
import json
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable

import pytest
import typer
from typer.testing import CliRunner

from anxin.agent.types import Citation, Emotion, HandoffState, ToolCall, TurnResult
from anxin.evals import eval_cli
from anxin.evals.expectations import check, grounding, reply_language, values_equal
from anxin.evals.runner import default_workers, pass_hat, run_suites
from anxin.evals.suites import Expect, load_file, load_paths

SUITES = Path(__file__).resolve().parent / "data" / "suites"
GOOD = SUITES / "good"
BAD = SUITES / "bad"


# --------------------------------------------------------------------------- a fake advisor

def _quote_turn(session_id: str) -> TurnResult:
    return TurnResult(
        session_id=session_id, language="zh", intent="quote",
        reply="您的年保费为 1,234.50 元（保额50万，30岁）。等待期30天。",
        tool_calls=[
            ToolCall(name="search_policy", args={"query": "医疗险 等待期", "product_id": "MED-100"},
                     result={"hits": [{"clause_id": "MED-100-WAITING"}]}),
            ToolCall(name="quote", args={"product_id": "MED-100", "age": 30, "gender": "M", "sum_insured": 500000,
                                         "options": {"hbb": True, "plan": "basic"}},
                     result={"premium": 1234.5, "breakdown": [{"basis": "base", "factor": 1.0}]}),
        ],
        citations=[Citation(clause_id="MED-100-WAITING", product_id="MED-100", heading="等待期",
                            text="等待期为30天。")],
        latency_ms=12.0)


#: user text (or audio file name) -> TurnResult builder
SCRIPT: dict[str, Callable[[str], TurnResult]] = {
    "你好": lambda s: TurnResult(session_id=s, reply="您好，我是安心保险顾问。", language="zh", intent="greeting",
                               latency_ms=5.0),
    "30岁男性，医疗险报价，保额50万": _quote_turn,
    "hello.wav": lambda s: TurnResult(session_id=s, reply="非常抱歉给您带来不便，我已为您转接人工顾问。", intent="complaint",
                                      transcript="你们怎么回事", emotion=Emotion(label="anger", score=0.9),
                                      handoff=HandoffState(active=True, status="pending")),
    "Hello there": lambda s: TurnResult(session_id=s, reply="Hello, welcome to Anxin!", language="en",
                                        intent="greeting"),
}


class FakeAdvisor:
    """Same two methods as :class:`anxin.agent.advisor.Advisor`, answering from ``SCRIPT``."""

    backend = "none"

    def __init__(self, script: dict[str, Callable[[str], TurnResult]] | None = None) -> None:
        self.script = script if script is not None else SCRIPT
        self.sessions: list[tuple[str, str, str | None]] = []
        self.audio_seen: list[str] = []
        self._n = itertools.count(1)
        self._lock = threading.Lock()

    def new_session(self, channel: str = "web", language: str | None = None) -> str:
        with self._lock:
            sid = f"s{next(self._n)}"
            self.sessions.append((sid, channel, language))
        return sid

    def respond(self, session_id: str, text: str | None = None, audio: str | None = None) -> TurnResult:
        if audio is not None:
            assert Path(audio).is_file(), audio
            self.audio_seen.append(audio)
            key = Path(audio).name
        else:
            key = text or ""
        if key not in self.script:
            raise KeyError(f"unscripted turn {key!r}")
        return self.script[key](session_id)


def _suite(tmp_path: Path, body: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- expectation keys

def _result(**kw: Any) -> TurnResult:
    base = _quote_turn("s")
    return base.model_copy(update=kw)


FULL_EXPECT = {
    "intent": "quote",
    "tool": {"name": "quote", "args": {"product_id": "med-100", "age": "30", "sum_insured": 500000.0000001,
                                       "options": {"hbb": True}}},
    "tools": ["search_policy", {"name": "quote", "args": {"gender": "m"}}],
    "no_tool": ["claim_status"],
    "reply_contains": ["保费", "1,234.50"],
    "reply_contains_any": ["nothing", "元"],
    "reply_not_contains": ["抱歉"],
    "reply_matches": r"保费.*1,234\.50",
    "numbers": [1234.5, "50万", 30],
    "cites": ["med-100-waiting"],
    "cites_any": ["X-1", "MED-100-WAITING"],
    "cites_product": "MED-100",
    "emotion": "neutral",
    "handoff": False,
    "language": "zh",
    "grounded": True,
    "max_latency_ms": 100,
}


def test_every_key_holds() -> None:
    assert check(Expect.model_validate(FULL_EXPECT), _result()) == []


FAILING: list[tuple[str, Any, dict[str, Any]]] = [
    ("intent", "claim_status", {}),
    ("tool", {"name": "quote", "args": {"age": 31}}, {}),
    ("tool", {"name": "pre_underwrite"}, {}),
    ("tool", {"name": "quote", "args": {"options": {"hbb": False}}}, {}),
    ("tool", {"name": "quote", "args": {"missing_arg": 1}}, {}),
    ("tools", ["search_policy", "recommend"], {}),
    ("no_tool", ["quote"], {}),
    ("reply_contains", ["保费", "理赔"], {}),
    ("reply_contains_any", ["理赔", "核保"], {}),
    ("reply_not_contains", ["保费"], {}),
    ("reply_matches", r"^\d+$", {}),
    ("numbers", [999], {}),
    ("numbers", {"values": [1234], "tolerance": 0.1}, {}),
    ("cites", ["MED-100-WAITING", "MED-100-EXC-02"], {}),
    ("cites_any", ["MED-100-EXC-02"], {}),
    ("cites_product", "CI-200", {}),
    ("emotion", "anger", {}),
    ("handoff", True, {}),
    ("language", "en", {}),
    ("grounded", True, {"reply": "您的年保费为 1,299.00 元。"}),
    ("max_latency_ms", 10, {}),
]


@pytest.mark.parametrize("key,value,change", FAILING, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(FAILING)])
def test_each_key_can_fail(key: str, value: Any, change: dict[str, Any]) -> None:
    failures = check(Expect.model_validate({key: value}), _result(**change))
    assert [f.key for f in failures] == [key], failures
    assert failures[0].message


def test_tool_argument_equality() -> None:
    assert values_equal(500000, "500000") and values_equal("500,000", 500000.0000001)
    assert values_equal("XH-CI200-2016-000123", "xh-ci200-2016-000123")
    assert not values_equal(500000, 500001) and not values_equal("abc", "abd")
    assert values_equal({"a": 1}, {"a": 1.0, "b": 2})                  # nested mappings: contains
    assert not values_equal({"a": 1, "c": 3}, {"a": 1})
    assert values_equal([{"condition": "hypertension"}, {"condition": "bmi", "bmi": 31}],
                        [{"condition": "BMI", "bmi": "31", "x": 1}, {"condition": "hypertension", "systolic": 150}])
    assert not values_equal(["a", "b"], ["a"])
    assert values_equal(True, True) and not values_equal(True, False) and values_equal(False, "false")
    assert values_equal(None, None)


def test_numbers_shapes_and_tolerance(tmp_path: Path) -> None:
    reply = _result(reply="月缴约 101.20 元，年缴 1,234.50 元，共 50万 保额，20% 自付")
    for spec in ([1234.5, 101.2, 500000, 20], ["1,234.50", "50万"], {"values": [1234, 101], "tolerance": 0.6},
                 [{"value": 1234, "tolerance": 0.5}], {"value": 0.2}, 1234.5, [{"tolerance": 1}, 1234],
                 {"premium": 1234.5, "sum_insured": "50万"}, {"premium": 1234, "tolerance": 0.5}):
        assert check(Expect.model_validate({"numbers": spec}), reply) == [], spec
    assert check(Expect.model_validate({"numbers": [1234], "tolerance": 0.5}), reply) == []
    assert check(Expect.model_validate({"numbers": {"values": [1234], "tolerance": 0.1}, "tolerance": 1}), reply)
    assert check(Expect(grounded=False), _result(reply="保费 9,999 元")) == []     # only `true` is a check
    for bad in ([1234], {"values": [1234], "tolerance": 0.4}, [{"value": 1234, "tolerance": 0.1}]):
        assert [f.key for f in check(Expect.model_validate({"numbers": bad}), reply)] == ["numbers"], bad


def test_grounding_sources() -> None:
    r = _quote_turn("s")
    g = grounding(r)
    assert g.ungrounded == [] and len(g.numbers) == 4
    # a number only in a cited clause's text is grounded; a date against a source date
    r2 = r.model_copy(update={"reply": "等待期为30天，自2026年10月1日起生效",
                              "tool_calls": [ToolCall(name="claim_status", args={"claim_id": "CLM-2026-0008"},
                                                      result={"submitted": "2026-10-01"})]})
    assert grounding(r2).ungrounded == []
    # ids are not numbers; an invented ordinal is not exempt
    r3 = r2.model_copy(update={"reply": "保单 XH-CI200-2016-000123 第7条"})
    assert grounding(r3).ungrounded == ["7"]


def test_reply_language() -> None:
    assert reply_language("您的保单 XH-MED100-2026-000102 有效，MED-100 covers it") == "zh"
    assert reply_language("Your policy XH-MED100-2026-000102 (安心医疗) is active and covers it.") == "en"
    assert reply_language("Your 安心医疗 policy is ok") is None          # mixed: the advisor's label decides
    assert check(Expect(language="en"), _result(reply="Your 安心医疗 policy is ok", language="en")) == []
    assert reply_language("1,234.50") is None


# --------------------------------------------------------------------------- loading

def test_yaml_error_and_schema_error_name_file_and_line() -> None:
    loaded = load_paths([BAD])
    by_file = {e.path.name: e for e in loaded.errors}
    assert by_file["syntax.yaml"].line == 8 and "YAML" in by_file["syntax.yaml"].message
    assert by_file["schema.yaml"].line == 13 and "intnet" in by_file["schema.yaml"].message
    assert "schema.yaml:13" in str(by_file["schema.yaml"]) and "syntax.yaml:8" in str(by_file["syntax.yaml"])
    # the valid conversation of the half-broken file still loads
    assert [c.id for s in loaded.suites for c in s.conversations] == ["still-runs"]


@pytest.mark.parametrize("body,needle,line", [
    ("suite: s\nconversations:\n  - id: a\n    turns:\n      - user: x\n        audio: y.wav\n", "exactly one", 5),
    ("suite: s\nconversations:\n  - id: a\n    turns:\n      - expect: {intent: greeting}\n", "exactly one", 5),
    ("suite: s\nconversations:\n  - id: a\n    turns:\n      - user: x\n        expect:\n          reply_matches: '(['\n",
     "regular expression", 7),
    ("suite: s\nconversations:\n  - id: a\n    channel: phone\n    turns: [{user: x}]\n", "channel", 4),
    ("suite: s\nconversations:\n  - id: a\n    turns: [{user: x}]\n  - id: a\n    turns: [{user: y}]\n", "duplicate", 5),
    ("suite: s\nlang: fr\nconversations: []\n", "lang", 2),
    ("suite: s\nconversations:\n  - id: a\n    turns: [{user: x, expect: {numbers: [abc]}}]\n", "number", 4),
])
def test_schema_violations(tmp_path: Path, body: str, needle: str, line: int) -> None:
    suite, errors = load_file(_suite(tmp_path, body))
    assert len(errors) == 1, errors
    assert needle in errors[0].message and errors[0].line == line, errors[0]


def test_yaml_scalars_are_not_mangled(tmp_path: Path) -> None:
    suite, errors = load_file(_suite(tmp_path, (
        "suite: s\nconversations:\n  - id: 7\n    turns:\n      - user: 0427\n        expect:\n"
        "          tool: {name: claim_status, args: {id_last4: 0427, dob: 1970-06-25}}\n          handoff: no\n")))
    assert not errors
    turn = suite.conversations[0].turns[0]
    assert suite.conversations[0].id == "7" and turn.user == "0427"
    assert turn.expect.tool.args == {"id_last4": "0427", "dob": "1970-06-25"} and turn.expect.handoff is False


def test_audio_path_is_relative_to_the_suite_file() -> None:
    suite, errors = load_file(GOOD / "advisor-zh.yaml")
    assert not errors
    turn = suite.conversations[1].turns[0]
    assert turn.audio == "audio/hello.wav" and turn.audio_path == GOOD / "audio" / "hello.wav"
    fake = FakeAdvisor()
    report = run_suites([GOOD / "advisor-zh.yaml"], advisor_factory=lambda: fake, workers=1)
    assert fake.audio_seen == [str(GOOD / "audio" / "hello.wav")]
    voice = report.conversations[1].runs[0].turns[0]
    assert voice.audio == str(GOOD / "audio" / "hello.wav") and voice.transcript == "你们怎么回事"
    assert ("s2", "voice", "zh") in fake.sessions


# --------------------------------------------------------------------------- runner

def test_good_suites_pass_and_reports_are_written(tmp_path: Path) -> None:
    fake = FakeAdvisor()
    report = run_suites([GOOD], report_dir=tmp_path / "out", junit=tmp_path / "junit.xml",
                        advisor_factory=lambda: fake, workers=2)
    assert report.final_line() == "3 passed, 0 failed", [c.summary_line() for c in report.conversations]
    data = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert data["passed"] == 3 and data["failed"] == 0 and data["summary"]["pass^1"] == 1.0
    conv = next(c for c in data["conversations"] if c["id"] == "quote-every-key")
    turn = conv["runs"][0]["turns"][1]
    for key in ("user", "reply", "intent", "tool_calls", "citations", "emotion", "handoff", "latency_ms",
                "passed", "failures", "transcript"):
        assert key in turn
    assert turn["tool_calls"][1]["args"]["age"] == 30 and turn["tool_calls"][1]["result"]["premium"] == 1234.5
    assert set(data["summary"]["by_language"]) == {"zh", "en"}
    assert {"quote", "handoff", "greeting"} <= set(data["summary"]["by_capability"])
    m = data["metrics"]
    assert m["citation_precision"]["value"] == 1.0 and m["citation_recall"]["value"] == 1.0
    assert m["grounded_number_rate"]["value"] == 1.0 and m["tool_argument_accuracy"]["value"] == 1.0
    assert m["handoff_precision"]["value"] == 1.0 and m["handoff_recall"]["value"] == 1.0
    assert m["intent_accuracy"]["value"] == 1.0 and m["emotion_accuracy"]["value"] == 1.0
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "quote-every-key" in html
    root = ET.parse(tmp_path / "junit.xml").getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == 3 and not root.findall(".//failure")


def test_failures_crashes_and_escaping(tmp_path: Path) -> None:
    script = dict(SCRIPT)
    script["boom"] = lambda s: (_ for _ in ()).throw(RuntimeError("model fell over"))
    script["<b>"] = lambda s: TurnResult(session_id=s, reply="<script>alert(1)</script>", intent="greeting")
    path = _suite(tmp_path, (
        "suite: mixed\nconversations:\n"
        "  - id: crash\n    turns:\n      - user: boom\n      - user: 你好\n        expect: {intent: greeting}\n"
        "  - id: wrong\n    turns:\n      - user: <b>\n        expect: {intent: quote, reply_contains: [保费]}\n"
        "  - id: fine\n    turns:\n      - user: 你好\n        expect: {intent: greeting}\n"))
    report = run_suites([path], report_dir=tmp_path / "out", junit=tmp_path / "j.xml",
                        advisor_factory=lambda: FakeAdvisor(script), workers=1)
    assert report.final_line() == "1 passed, 2 failed"
    crash = report.conversations[0]
    t1, t2 = crash.runs[0].turns
    assert not t1.passed and "RuntimeError: model fell over" in t1.error and t2.passed   # the run went on
    line = report.conversations[1].summary_line()
    assert line.startswith("FAIL mixed/wrong") and "turn 1 (line 10)" in line and "intent" in line
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    failures = ET.parse(tmp_path / "j.xml").getroot().findall(".//failure")
    assert len(failures) == 2 and "model fell over" in (failures[0].text or "")


def test_pass_hat_k_with_a_flaky_advisor(tmp_path: Path) -> None:
    calls = itertools.count()
    lock = threading.Lock()

    def flaky(s: str) -> TurnResult:
        with lock:
            n = next(calls)
        return TurnResult(session_id=s, reply="hi", intent="greeting" if n % 2 == 0 else "out_of_scope")

    script = {"hi": flaky, "你好": SCRIPT["你好"]}
    path = _suite(tmp_path, ("suite: flaky\nconversations:\n"
                             "  - id: flaky\n    turns: [{user: hi, expect: {intent: greeting}}]\n"
                             "  - id: steady\n    turns: [{user: 你好, expect: {intent: greeting}}]\n"))
    report = run_suites([path], k=4, advisor_factory=lambda: FakeAdvisor(script), workers=1)
    flaky_rec, steady = report.conversations
    assert flaky_rec.successes == 2 and not flaky_rec.passed and steady.passed and len(steady.runs) == 4
    assert len({r.session_id for c in report.conversations for r in c.runs}) == 8     # a fresh session per run
    s = report.summary
    assert s["pass^1"] == 0.75 and s["pass^4"] == 0.5 and report.final_line() == "1 passed, 1 failed"
    assert s["pass_hat"]["2"] == round((1 / 6 + 1) / 2, 4)
    assert pass_hat(2, 4, 2) == pytest.approx(1 / 6)


def test_malformed_files_count_as_failed_and_others_run() -> None:
    fake = FakeAdvisor()
    report = run_suites([SUITES], advisor_factory=lambda: fake, workers=2)
    # good: 3 pass; bad/schema.yaml: still-runs passes, misspelt-key fails; bad/syntax.yaml: 1 failure
    assert report.final_line() == "4 passed, 2 failed"
    not_loaded = [c for c in report.conversations if c.load_error]
    assert {(Path(c.file).name, c.line) for c in not_loaded} == {("schema.yaml", 13), ("syntax.yaml", 8)}


def test_default_workers() -> None:
    assert default_workers("none", sqlite=False) >= 1 and 1 <= default_workers("none", sqlite=True) <= 2
    assert default_workers("local", sqlite=False) == 1 and default_workers(None) == 1


# --------------------------------------------------------------------------- CLI

def _cli(monkeypatch: pytest.MonkeyPatch, args: list[str], script: dict | None = None):
    monkeypatch.setattr(eval_cli, "ADVISOR_FACTORY", lambda: FakeAdvisor(script))
    app = typer.Typer()
    app.command()(eval_cli.eval_command)
    return CliRunner().invoke(app, args)


def test_cli_all_pass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = _cli(monkeypatch, [str(GOOD), "--k", "2", "--report-dir", str(tmp_path / "r"),
                                "--junit", str(tmp_path / "j.xml"), "--workers", "2"])
    lines = result.stdout.strip().splitlines()
    assert result.exit_code == 0, result.output
    assert lines[-1] == "3 passed, 0 failed"
    assert any(l.startswith("PASS fake-zh/quote-every-key") for l in lines)
    assert any(l.startswith("pass^1 1.000, pass^2 1.000") for l in lines)
    assert (tmp_path / "r" / "results.json").exists() and (tmp_path / "j.xml").exists()


def test_cli_failures_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _cli(monkeypatch, [str(SUITES)])
    lines = result.stdout.strip().splitlines()
    assert result.exit_code == 1 and lines[-1] == "4 passed, 2 failed"
    assert any("syntax.yaml:8" in l and l.startswith("FAIL") for l in lines)
    assert any("schema.yaml:13" in l and l.startswith("FAIL") for l in lines)


def test_cli_missing_path_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = _cli(monkeypatch, [str(GOOD / "advisor-en.yaml"), str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert result.stdout.strip().splitlines()[-1] == "1 passed, 0 failed"
    assert "nope.yaml" in result.stderr
    assert _cli(monkeypatch, [str(GOOD), "--k", "0"]).exit_code == 2
