"""Speech-recognition benchmark: accuracy (WER/CER) and speed (real-time factor).

English: the five LibriVox clips (public domain, *Sense and Sensibility*) with their
transcripts that ship in the ``pocketsphinx`` 5.1.1 source distribution; the sdist is
fetched once with ``pip download`` and cached under ``ANXIN_HOME/bench-data``.
Mandarin: a few insurance sentences synthesised by ``espeak-ng`` (pinyin voice) when it
is installed; CER over characters. Synthetic Mandarin is far from a real customer's
voice, so its CER is a smoke test, not a quality claim.

:func:`bench_speech` returns a dict and writes nothing but the cached data.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

PS_VERSION = "5.1.1"
PS_SDIST = f"pocketsphinx-{PS_VERSION}.tar.gz"
LIBRIVOX = f"pocketsphinx-{PS_VERSION}/test/data/librivox/"
TARGET_RTF = 0.3
TARGET_WER = 0.05

#: Mandarin sentences (customer questions) with the pinyin espeak-ng reads.
ZH_SENTENCES: tuple[tuple[str, str], ...] = (
    ("您好，我想了解一下重疾险的保费。",
     "nin2 hao3, wo3 xiang3 liao3 jie3 yi1 xia4 zhong4 ji2 xian3 de5 bao3 fei4."),
    ("等待期是多少天？", "deng3 dai4 qi1 shi4 duo1 shao3 tian1?"),
    ("我的理赔申请什么时候能批下来？",
     "wo3 de5 li3 pei2 shen1 qing3 shen2 me5 shi2 hou4 neng2 pi1 xia4 lai2?"),
    ("我今年三十五岁，想买医疗保险。",
     "wo3 jin1 nian2 san1 shi2 wu3 sui4, xiang3 mai3 yi1 liao2 bao3 xian3."),
)

_SMALL = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
          "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ABBREV = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "ms": "miss"}


def _number_words(n: int) -> str:
    if n < 20:
        return _SMALL[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _SMALL[n % 10])
    if n < 1000:
        rest = n % 100
        return _SMALL[n // 100] + " hundred" + ("" if rest == 0 else " " + _number_words(rest))
    return " ".join(_SMALL[int(d)] for d in str(n))


def normalise_en(text: str) -> list[str]:
    """Words for English WER: lower case, no punctuation, hyphens split, common
    abbreviations and small numbers spelt out."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = re.sub(r"\d+", lambda m: f" {_number_words(int(m.group()))} ", text)
    text = re.sub(r"[-–—/]", " ", text)
    text = re.sub(r"[^\w\s']", " ", text)
    words = [w.strip("'") for w in text.split()]
    return [_ABBREV.get(w, w) for w in words if w]


def normalise_zh(text: str) -> list[str]:
    """Characters for Chinese CER: Simplified, without punctuation or spaces."""
    try:
        from anxin.agent.speech import to_simplified

        text = to_simplified(text)
    except Exception:  # noqa: BLE001
        pass
    text = unicodedata.normalize("NFKC", text)
    return [c for c in text if not (c.isspace() or unicodedata.category(c).startswith("P"))]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between two token lists."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def error_rate(ref: list[str], hyp: list[str]) -> float:
    """Edit distance over the reference length (WER for words, CER for characters)."""
    return edit_distance(ref, hyp) / max(len(ref), 1)


# ---------------------------------------------------------------- data
def bench_data_dir() -> Path:
    """``ANXIN_HOME/bench-data`` (created)."""
    from anxin.config import settings

    path = settings().home / "bench-data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def librivox_clips(download: bool = True, data_dir: Path | None = None) -> list[tuple[Path, str]]:
    """``[(wav, reference transcript)]`` of the pocketsphinx LibriVox clips, extracted from
    the cached sdist (downloaded with pip when missing and ``download``). Empty when the
    data cannot be had."""
    root = data_dir or bench_data_dir()
    out = root / f"pocketsphinx-{PS_VERSION}-librivox"
    if not (out.is_dir() and any(out.glob("*.wav"))):
        sdist = root / PS_SDIST
        if not sdist.is_file():
            if not download:
                return []
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   f"pocketsphinx=={PS_VERSION}", "-d", str(root), "--disable-pip-version-check"]
            try:
                subprocess.run(cmd, check=True, capture_output=True, timeout=600)
            except (subprocess.SubprocessError, OSError):
                return []
            if not sdist.is_file():
                return []
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".extract-"))
        try:
            with tarfile.open(sdist) as tar:
                for member in tar.getmembers():
                    name = member.name
                    if (member.isfile() and name.startswith(LIBRIVOX)
                            and name.endswith((".wav", ".txt")) and "/" not in name[len(LIBRIVOX):]):
                        src = tar.extractfile(member)
                        if src is not None:
                            (tmp / Path(name).name).write_bytes(src.read())
            shutil.rmtree(out, ignore_errors=True)
            tmp.rename(out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    clips = []
    for wav in sorted(out.glob("*.wav")):
        txt = wav.with_suffix(".txt")
        if txt.is_file():
            clips.append((wav, txt.read_text(encoding="utf-8").strip()))
    return clips


def espeak_available() -> bool:
    """True when ``espeak-ng`` is on the PATH."""
    return shutil.which("espeak-ng") is not None


def synth_mandarin(pinyin: str, out: Path) -> Path:
    """Synthesise pinyin (tone numbers) with espeak-ng's Mandarin voice into ``out`` (WAV)."""
    subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "150", "-w", str(out), pinyin],
                   check=True, capture_output=True, timeout=60)
    return out


# ---------------------------------------------------------------- benchmark
def _run_clips(transcriber: Any, clips: list[tuple[Path, str]], language: str,
               normalise: Any, detect: bool) -> dict[str, Any]:
    from anxin.agent.speech import load_audio

    rows: list[dict[str, Any]] = []
    errors = ref_len = 0
    audio_s = elapsed_s = 0.0
    detected_ok = 0
    for path, ref in clips:
        samples, _ = load_audio(path)
        t = transcriber.transcribe(samples, language=language)
        ref_t, hyp_t = normalise(ref), normalise(t.text)
        dist = edit_distance(ref_t, hyp_t)
        row: dict[str, Any] = {
            "clip": path.name, "reference": ref, "hypothesis": t.text,
            "error_rate": round(dist / max(len(ref_t), 1), 4), "errors": dist, "ref_tokens": len(ref_t),
            "duration_s": t.duration_s, "elapsed_s": t.elapsed_s, "rtf": t.rtf,
            "confidence": t.confidence, "low_confidence": t.low_confidence,
        }
        if detect:
            chunks = transcriber.speech_chunks(samples)
            if chunks:
                import numpy as np

                speech = np.concatenate([samples[c["start"]:c["end"]] for c in chunks])
                lang, prob = transcriber.detect_language(speech)
                row["detected_language"] = lang
                row["detected_probability"] = round(prob, 3)
                detected_ok += lang == language
        rows.append(row)
        errors += dist
        ref_len += len(ref_t)
        audio_s += t.duration_s
        elapsed_s += t.elapsed_s
    summary: dict[str, Any] = {
        "clips": rows,
        "error_rate": round(errors / max(ref_len, 1), 4),
        "errors": errors, "ref_tokens": ref_len,
        "audio_s": round(audio_s, 2), "elapsed_s": round(elapsed_s, 2),
        "rtf": round(elapsed_s / audio_s, 4) if audio_s else None,
    }
    if detect:
        summary["language_detection_accuracy"] = round(detected_ok / max(len(rows), 1), 3)
    return summary


def bench_speech(download: bool = True, mandarin: bool = True, detect: bool = True,
                 transcriber: Any | None = None) -> dict[str, Any]:
    """Measure Whisper's WER and RTF on real English speech (pocketsphinx LibriVox clips)
    and CER on synthetic Mandarin (espeak-ng, when installed).

    Returns ``{"model", "settings", "load_s", "english": {...}, "mandarin": {...}}``; each
    language block has per-clip rows, the total ``error_rate`` (WER words / CER chars)
    and ``rtf`` (total elapsed over total audio, model load excluded), or ``skipped``.
    ``english.pass`` checks the targets RTF ≤ 0.3 and WER ≤ 5 %.
    """
    from anxin.agent.speech import MODEL_NAME, Transcriber

    tr = transcriber or Transcriber()
    started = time.perf_counter()
    tr.warm_up()
    load_s = time.perf_counter() - started
    result: dict[str, Any] = {
        "model": MODEL_NAME,
        "settings": {"device": "cpu", "compute_type": "int8", "cpu_threads": tr.cpu_threads,
                     "beam_size": 1, "vad_filter": True,
                     "window": "adaptive" if tr.adaptive_window else "full"},
        "load_s": round(load_s, 3),
    }
    clips = librivox_clips(download=download)
    if clips:
        # one untimed pass over a short clip so the first timed clip is not a cold start
        tr.transcribe(clips[0][0], language="en")
        en = _run_clips(tr, clips, "en", normalise_en, detect)
        en["wer"] = en["error_rate"]
        en["source"] = f"pocketsphinx {PS_VERSION} sdist, test/data/librivox (LibriVox, public domain)"
        en["target"] = {"rtf": TARGET_RTF, "wer": TARGET_WER}
        en["pass"] = bool(en["rtf"] is not None and en["rtf"] <= TARGET_RTF and en["wer"] <= TARGET_WER)
        result["english"] = en
    else:
        result["english"] = {"skipped": "pocketsphinx sdist not cached and could not be downloaded"}
    if not mandarin:
        result["mandarin"] = {"skipped": "not requested"}
    elif not espeak_available():
        result["mandarin"] = {"skipped": "espeak-ng is not installed (apt-get install espeak-ng)"}
    else:
        with tempfile.TemporaryDirectory(prefix="anxin-zh-") as tmp:
            zh_clips = [(synth_mandarin(py, Path(tmp) / f"zh{i}.wav"), han)
                        for i, (han, py) in enumerate(ZH_SENTENCES, 1)]
            zh = _run_clips(tr, zh_clips, "zh", normalise_zh, detect)
        for row in zh["clips"]:
            row["clip"] = "espeak-ng:" + row["clip"]
        zh["cer"] = zh["error_rate"]
        zh["source"] = "espeak-ng cmn-latn-pinyin synthetic speech (not a human voice)"
        result["mandarin"] = zh
    return result


if __name__ == "__main__":  # pragma: no cover - manual run
    import json

    print(json.dumps(bench_speech(), ensure_ascii=False, indent=1))
