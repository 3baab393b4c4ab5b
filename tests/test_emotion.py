"""Per-turn emotion detection: labels (zh/en), negation, intensity, prosody fusion, LLM
fallback, the batch CLI and a regression floor on the labelled set. Offline and fast."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from anxin.agent.emotion import (
    EMOTIONS, arousal_from_features, detect_emotion, detect_language, is_negative, prosody_features,
)
from anxin.agent.emotion_cli import emotion_command
from anxin.agent.types import Emotion
from anxin.evals.emotion_eval import DEV, LABELLED, evaluate, load, metrics

SR = 16000


# --------------------------------------------------------------------------- labels

@pytest.mark.parametrize("text, label", [
    # zh
    ("重疾险等待期多久？", "neutral"),
    ("我今年30岁，百万医疗险一年多少钱", "neutral"),
    ("被保险人身故后受益人怎么领钱？", "neutral"),
    ("你们就是一群骗子，交钱的时候那么积极！", "anger"),
    ("理赔拖了两个月还没消息，太过分了", "anger"),
    ("医生说要马上手术，我好着急，保险能不能先垫付", "anxiety"),
    ("万一被拒赔了怎么办", "anxiety"),
    ("我父亲上周去世了，心里很难受", "sadness"),
    ("太好了，赔款到账了，谢谢你们！", "joy"),
    ("“现金价值”是什么意思？看不懂", "confusion"),
    ("這個條款我看不懂，什麼意思？", "confusion"),        # traditional characters
    # en
    ("How much is the premium for a 30 year old?", "neutral"),
    ("Does the policy cover dental work?", "neutral"),
    ("This is ridiculous, you people are scammers.", "anger"),
    ("I've called five times and nobody ever calls me back", "anger"),
    ("I'm really worried my claim will be denied, the surgery is tomorrow", "anxiety"),
    ("My mother passed away last month and I need to claim on her policy.", "sadness"),
    ("Thank you so much, that's great news!", "joy"),
    ("I don't understand what 'co-insurance' means.", "confusion"),
    ("I dont get it, why is my excess higher than the claim?", "confusion"),   # no apostrophe
])
def test_labels(text: str, label: str) -> None:
    emotion = detect_emotion(text)
    assert isinstance(emotion, Emotion)
    assert emotion.label == label, (text, emotion.label, emotion.signals.get("evidence"))
    assert 0.0 <= emotion.score <= 1.0
    assert 0.0 <= emotion.signals["intensity"] <= 1.0


def test_plain_questions_are_confident_neutral() -> None:
    for text in ("重疾险等待期多久？", "How much is the premium for a 30 year old?", "犹豫期是几天?"):
        emotion = detect_emotion(text)
        assert emotion.label == "neutral" and emotion.score >= 0.8
        assert emotion.signals["very_intense"] is False


def test_question_mark_alone_is_not_confusion() -> None:
    assert detect_emotion("保费可以按月交吗？").label == "neutral"
    assert detect_emotion("Can I pay monthly?").label == "neutral"


def test_thanks_only_when_it_is_thanks() -> None:
    assert detect_emotion("谢谢你，解释得很清楚").label == "joy"
    assert detect_emotion("Thanks, what's the waiting period for maternity?").label == "neutral"
    assert detect_emotion("Noted, thanks.").label == "neutral"


def test_empty_text() -> None:
    emotion = detect_emotion("   ")
    assert emotion.label == "neutral" and emotion.signals["very_intense"] is False


# --------------------------------------------------------------------------- negation

@pytest.mark.parametrize("text", ["我不担心，只是随便问问", "别担心我，我就问下流程", "I'm not worried, just curious about the options."])
def test_negated_anxiety_is_not_anxiety(text: str) -> None:
    emotion = detect_emotion(text)
    assert emotion.label != "anxiety"
    assert emotion.signals["negated"]


@pytest.mark.parametrize("text", ["我对处理结果很不满意", "I'm not happy with how this was handled."])
def test_negated_satisfaction_is_anger(text: str) -> None:
    assert detect_emotion(text).label == "anger"


def test_not_a_negation_of_the_cue() -> None:
    # "特别" ends in 别 but is an intensifier, not a negator
    assert detect_emotion("我们现在特别着急").label == "anxiety"


# --------------------------------------------------------------------------- intensity

def test_intensifier_raises_intensity() -> None:
    plain, strong = detect_emotion("我担心"), detect_emotion("我真的非常担心")
    assert plain.label == strong.label == "anxiety"
    assert strong.signals["intensity"] > plain.signals["intensity"]
    assert strong.score >= plain.score


@pytest.mark.parametrize("text", [
    "你们这帮骗子！！！",
    "垃圾公司，我要去银保监会投诉你们",
    "THIS IS UNACCEPTABLE. PAY MY CLAIM NOW!!!",
    "If this isn't fixed by Friday I'm calling my lawyer, this is ridiculous.",
])
def test_very_intense_anger(text: str) -> None:
    emotion = detect_emotion(text)
    assert emotion.label == "anger"
    assert emotion.signals["very_intense"] is True
    assert emotion.signals["intensity"] >= 0.6


@pytest.mark.parametrize("text", ["理赔怎么还没到账", "凭什么拒赔？", "This is taking too long, I'm frustrated."])
def test_mild_anger_is_not_very_intense(text: str) -> None:
    emotion = detect_emotion(text)
    assert emotion.label == "anger"
    assert emotion.signals["very_intense"] is False


def test_exclamations_and_caps_raise_intensity() -> None:
    calm = detect_emotion("This is unacceptable.")
    loud = detect_emotion("THIS IS UNACCEPTABLE!!!")
    assert loud.signals["intensity"] > calm.signals["intensity"]
    assert loud.signals["exclamations"] == 3 and loud.signals["all_caps"]


def test_acronyms_are_not_shouting() -> None:
    emotion = detect_emotion("My son is in the ICU, does the HMO plan cover it?")
    assert emotion.signals["caps_words"] == []


def test_signals_are_json_serialisable() -> None:
    emotion = detect_emotion("你们这帮骗子！！！ I want my money back", prosody={"arousal": 0.9})
    json.dumps(emotion.model_dump())
    assert {"intensity", "very_intense", "cues", "evidence"} <= set(emotion.signals)


def test_is_negative_and_language() -> None:
    assert all(is_negative(x) for x in ("anger", "anxiety", "sadness"))
    assert not any(is_negative(x) for x in ("neutral", "joy", "confusion", None))
    assert is_negative(Emotion(label="anger", score=0.9))
    assert detect_language("我的保单") == "zh" and detect_language("my policy") == "en"
    assert set(EMOTIONS) == {"neutral", "anger", "anxiety", "sadness", "joy", "confusion"}


# --------------------------------------------------------------------------- LLM fallback

def test_llm_used_only_when_ambiguous() -> None:
    calls: list[str] = []

    def llm(prompt: str) -> str:
        calls.append(prompt)
        return 'Sure: {"label": "anxiety"}'

    clear = detect_emotion("你们这帮骗子！！！", llm=llm)
    assert clear.label == "anger" and not calls and "llm" not in clear.signals
    ambiguous_text = "我的理赔还没到账"           # one weak complaint cue: low margin
    assert detect_emotion(ambiguous_text).signals["margin"] < 0.3
    emotion = detect_emotion(ambiguous_text, llm=llm)
    assert len(calls) == 1 and ambiguous_text in calls[0] and "JSON" in calls[0]
    assert emotion.signals["llm"] == {"label": "anxiety", "used": True}
    assert emotion.label == "anxiety" and 0.5 <= emotion.score <= 1.0


@pytest.mark.parametrize("answer", ["not json", '{"label": "furious"}', None, "[]", '{"label": 3}'])
def test_llm_invalid_answers_are_ignored(answer) -> None:
    text = "我的理赔还没到账"
    emotion = detect_emotion(text, llm=lambda prompt: answer)
    assert emotion.label == detect_emotion(text).label
    assert emotion.signals["llm"]["used"] is False


def test_llm_exception_is_ignored() -> None:
    def broken(prompt: str) -> str:
        raise RuntimeError("backend down")

    assert detect_emotion("我的理赔还没到账", llm=broken).label in EMOTIONS


# --------------------------------------------------------------------------- prosody

def _loud_varied(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    f0 = 230 + 90 * np.sin(2 * np.pi * 1.3 * t) + 40 * np.sin(2 * np.pi * 3.7 * t)
    env = (np.sin(2 * np.pi * 5 * t) > 0) * (0.5 + 0.4 * np.abs(np.sin(2 * np.pi * 0.7 * t)))
    return 0.9 * env * np.sin(2 * np.pi * np.cumsum(f0) / SR)


def _quiet_flat(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return 0.01 * np.sin(2 * np.pi * 110 * t)


def test_prosody_features() -> None:
    loud, quiet = prosody_features(_loud_varied(), SR), prosody_features(_quiet_flat(), SR)
    assert abs(quiet["pitch_mean_hz"] - 110) < 3 and quiet["pitch_std_st"] < 0.5
    assert 180 < loud["pitch_mean_hz"] < 320 and loud["pitch_std_st"] > 2
    assert loud["rms_mean_db"] > quiet["rms_mean_db"] + 20
    assert loud["onset_rate"] > quiet["onset_rate"]
    assert abs(loud["duration_s"] - 2.0) < 1e-6
    assert loud["arousal"] > 0.5 and quiet["arousal"] < -0.5
    assert arousal_from_features({"arousal": 3}) == 1.0
    # int16 and stereo input, silence and too-short input
    assert prosody_features((_loud_varied() * 30000).astype(np.int16), SR)["arousal"] > 0.5
    assert prosody_features(np.stack([_quiet_flat()] * 2, axis=1), SR)["arousal"] < -0.5
    assert prosody_features(np.zeros(SR), SR)["arousal"] == 0.0
    assert prosody_features(np.zeros(10), SR)["pitch_mean_hz"] == 0.0
    with pytest.raises(ValueError):
        prosody_features(np.zeros(10), 0)


def test_prosody_fusion() -> None:
    loud, quiet = prosody_features(_loud_varied(), SR), prosody_features(_quiet_flat(), SR)
    base = detect_emotion("嗯")
    hot, low = detect_emotion("嗯", prosody=loud), detect_emotion("嗯", prosody=quiet)
    assert base.label == "neutral"
    assert hot.label in ("anger", "anxiety") and low.label == "sadness"
    assert hot.signals["prosody"]["arousal"] > 0.5
    # arousal raises anger/anxiety scores of an ambiguous complaint
    text = "我的理赔还没到账"
    plain = detect_emotion(text)
    assert detect_emotion(text, prosody=loud).signals["evidence"].get("anger", 0) > plain.signals["evidence"].get("anger", 0)


def test_prosody_never_overrides_confident_text() -> None:
    loud, quiet = prosody_features(_loud_varied(), SR), prosody_features(_quiet_flat(), SR)
    assert detect_emotion("太好了，谢谢你们！", prosody=quiet).label == "joy"
    assert detect_emotion("This is great news, thank you!", prosody=loud).label == "joy"
    assert detect_emotion("“免赔额”是什么意思？看不懂", prosody=loud).label == "confusion"
    assert detect_emotion("重疾险等待期多久？", prosody=loud).label == "neutral"
    # ... but agrees with and intensifies matching text
    angry = detect_emotion("你们太过分了", prosody=loud)
    assert angry.label == "anger"
    assert angry.signals["intensity"] > detect_emotion("你们太过分了").signals["intensity"]


# --------------------------------------------------------------------------- CLI

@pytest.fixture()
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(emotion_command)
    return app


def test_cli_batch(cli: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "turns.jsonl"
    lines = [
        json.dumps({"text": "重疾险等待期多久？", "lang": "zh"}, ensure_ascii=False),
        json.dumps({"text": "This is a scam!!!"}),
        "",
        "{not json",
        json.dumps({"lang": "en"}),
        json.dumps(["a list"]),
        json.dumps({"text": "hi", "lang": "fr"}),
        json.dumps({"text": "谢谢你们，太好了"}, ensure_ascii=False),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--batch", str(path)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 7                              # blank line skipped
    assert out[0]["label"] == "neutral" and 0 <= out[0]["score"] <= 1
    assert out[1]["label"] == "anger"
    assert all("error" in o for o in out[2:6])
    assert "line 4" in out[2]["error"]
    assert out[6]["label"] == "joy"


def test_cli_batch_with_bad_bytes(cli: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "turns.jsonl"
    path.write_bytes(b'{"text": "ok"}\n\xff\xfe\n{"text": "I am so worried"}\n')
    result = CliRunner().invoke(cli, ["--batch", str(path)])
    assert result.exit_code == 0
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [("error" in o) for o in out] == [False, True, False]
    assert out[2]["label"] == "anxiety"


def test_cli_unreadable_file(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--batch", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_cli_text(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["--text", "我不明白这个条款什么意思"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"label": "confusion", "score": json.loads(result.stdout)["score"]}
    result = CliRunner().invoke(cli, ["--text", "scam!", "--signals"])
    assert json.loads(result.stdout)["signals"]["very_intense"] is True


def test_cli_needs_exactly_one_input(cli: typer.Typer, tmp_path: Path) -> None:
    assert CliRunner().invoke(cli, []).exit_code == 2
    path = tmp_path / "x.jsonl"
    path.write_text("{}\n")
    assert CliRunner().invoke(cli, ["--batch", str(path), "--text", "hi"]).exit_code == 2


# --------------------------------------------------------------------------- evaluation

def test_labelled_set_shape() -> None:
    rows = load(LABELLED)
    assert len(rows) >= 160
    assert sum(r["lang"] == "zh" for r in rows) >= 80 and sum(r["lang"] == "en" for r in rows) >= 80
    counts = {lab: sum(r["label"] == lab for r in rows) for lab in EMOTIONS}
    assert all(counts.values())
    assert max(counts, key=counts.get) == "neutral"


def test_metrics() -> None:
    m = metrics(["neutral", "anger", "anger", "joy"], ["neutral", "anger", "neutral", "joy"])
    assert m["accuracy"] == 0.75 and m["confusion"]["anger"]["neutral"] == 1
    assert m["per_label"]["anger"]["recall"] == 0.5 and m["per_label"]["neutral"]["precision"] == 0.5


def test_regression_floor_labelled() -> None:
    result = evaluate(LABELLED)
    assert result["n"] >= 160
    assert result["macro_f1"] >= 0.75, result["per_label"]
    assert set(result["by_lang"]) == {"zh", "en"}


def test_regression_floor_dev() -> None:
    assert evaluate(DEV)["macro_f1"] >= 0.75
