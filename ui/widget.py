"""The customer chat widget (Gradio), mounted at ``/`` by :mod:`anxin.ui.server`.

Chat with streamed replies, voice (microphone or upload), the clauses behind each
answer as expandable cards, the quote breakdown as a table, a before/after chart when
a premium simulation ran, a zh/en interface toggle (``?lang=en`` in the URL picks
English), a hand-off banner with the queue position, and staff messages arriving live
(polled every 2 seconds). Every turn goes through :class:`~anxin.ui.services.AnxinService`,
the same code the HTTP API uses.

A recording is transcribed first (:meth:`AnxinService.transcribe`): when speech
recognition is unsure (``low_confidence``) the transcript is put in the text box with a
notice, for the customer to confirm or edit and send as text; otherwise it is sent as a
voice turn (so the voice's prosody informs the emotion). The event handlers are the
methods of :class:`WidgetHandlers`, callable without a browser.
"""
from __future__ import annotations

import html
import re
import logging
import os
import queue
import threading
from collections.abc import Iterator
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # never phone home; set before importing gradio

import gradio as gr  # noqa: E402

from anxin.ui.services import AnxinService, default_service  # noqa: E402

#: UI events are for the page itself: the HTTP API is the programmatic interface.
PRIVATE: dict[str, Any] = {"api_visibility": "private"}
#: ``ANXIN_WIDGET_API=1`` (end-to-end tests with ``gradio_client``) makes the two send
#: events callable as ``/send_text`` and ``/send_voice``; otherwise every event is private.
WIDGET_API_ENV = "ANXIN_WIDGET_API"


def _api(name: str) -> dict[str, Any]:
    if os.environ.get(WIDGET_API_ENV, "").strip().lower() in ("1", "true", "yes"):
        return {"api_visibility": "public", "api_name": name}
    return PRIVATE


log = logging.getLogger("anxin.ui.widget")

POLL_SECONDS = 2.0
#: Longest a streamed turn may stay silent before the widget gives up waiting on it.
TURN_TIMEOUT_S = 180.0

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "## 安心 · 星衡保险智能顾问",
        "subtitle": "条款问答、报价、保费测算、理赔查询；需要时为您转接人工顾问。（演示系统，产品与数据均为虚构）",
        "chat": "对话", "placeholder": "请输入您的问题，例如：重疾险报价，30岁男，保额50万",
        "send": "发送", "voice": "语音提问", "audio": "录音或上传音频", "send_voice": "发送语音",
        "clauses": "引用条款", "breakdown": "报价明细", "chart": "保费对比",
        "no_clauses": "本轮回答没有引用条款。", "clause_missing": "（条款全文请见产品条款文本）",
        "queue": "正在为您转接人工顾问，您排在第 {n} 位。", "queue_unknown": "正在为您转接人工顾问，请稍候。",
        "taken": "人工顾问 {name} 正在为您服务。", "taken_anon": "人工顾问正在为您服务。", "advisor": "人工顾问", "voice_prefix": "🎤 ",
        "voice_unheard": "（语音）", "thinking": "…", "error": "抱歉，系统暂时无法回复，请稍后再试或转人工。",
        "before": "当前", "after": "调整后", "premium": "保费（元）",
        "step": "步骤", "basis": "计算", "factor": "系数", "subtotal": "小计",
        "language": "界面语言",
        "listening": "正在识别语音…", "confirm": "没听清楚，请确认或修改后发送",
        "no_audio": "请先录音或上传音频。",
    },
    "en": {
        "title": "## Anxin · Xingheng Insurance AI advisor",
        "subtitle": "Policy questions, quotes, premium simulations, claim status; a human advisor whenever you need one. "
                    "(Demo system: products and data are fictional.)",
        "chat": "Chat", "placeholder": "Ask a question, e.g. critical illness quote, 30-year-old man, 500,000 cover",
        "send": "Send", "voice": "Ask by voice", "audio": "Record or upload audio", "send_voice": "Send voice",
        "clauses": "Clauses cited", "breakdown": "Quote breakdown", "chart": "Premium before / after",
        "no_clauses": "No clause was cited in this answer.", "clause_missing": "(see the policy wording for the full text)",
        "queue": "Connecting you to an advisor: you are number {n} in the queue.",
        "queue_unknown": "Connecting you to an advisor, please wait.",
        "taken": "Advisor {name} is helping you now.", "taken_anon": "An advisor is helping you now.", "advisor": "Advisor", "voice_prefix": "🎤 ",
        "voice_unheard": "(voice message)", "thinking": "…",
        "error": "Sorry, I can't reply right now. Please try again or ask for a human advisor.",
        "before": "Before", "after": "After", "premium": "Premium (CNY)",
        "step": "Step", "basis": "Calculation", "factor": "Factor", "subtotal": "Subtotal",
        "language": "Language",
        "listening": "Listening…", "confirm": "I may have misheard — please check or edit, then send",
        "no_audio": "Please record or upload audio first.",
    },
}
LANG_CHOICES = [("中文", "zh"), ("English", "en")]

CSS = """
.anxin-banner {background:#fff7e6;border:1px solid #f0c36d;border-radius:8px;padding:.6em 1em;font-weight:600}
.anxin-banner.taken {background:#e8f6ef;border-color:#7cc8a0}
.anxin-clause {border:1px solid #e3e3e3;border-radius:8px;padding:.4em .8em;margin:.4em 0;background:#fafafa}
.anxin-clause summary {cursor:pointer}
.anxin-clause code {background:#eef;padding:0 .3em;border-radius:4px}
.anxin-clause div {white-space:pre-wrap;margin-top:.4em;font-size:.95em}
.anxin-notice {background:#fff7e6;border:1px solid #f0c36d;border-radius:8px;padding:.4em 1em}
.anxin-notice.error {background:#fdecea;border-color:#e89a92}
.anxin-notice.info {background:#eef6fb;border-color:#9cc7e0}
footer {display:none !important}
"""


def theme() -> Any:
    """A calm theme with system fonts only (nothing fetched from font CDNs)."""
    return gr.themes.Soft(primary_hue="teal", secondary_hue="sky",
                          font=["system-ui", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "sans-serif"],
                          font_mono=["ui-monospace", "Consolas", "monospace"])


def _t(lang: str, key: str, **kw: Any) -> str:
    text = TEXT.get(lang, TEXT["zh"])[key]
    return text.format(**kw) if kw else text


# --------------------------------------------------------------------------- rendering helpers
def citations_html(citations: list[dict[str, Any]], lang: str) -> str:
    """Clause cards: ``<details>`` with the clause id and heading, the text inside."""
    if not citations:
        return f"<p><i>{html.escape(_t(lang, 'no_clauses'))}</i></p>"
    cards = []
    for c in citations:
        from anxin.agent.answers import clean_heading

        text = re.sub(r"\*\*|__", "", (c.get("text") or "").strip()) or _t(lang, "clause_missing")
        heading = clean_heading(c.get("heading") or "", str(c.get("clause_id", "")))
        cards.append(
            f'<details class="anxin-clause"><summary><code>{html.escape(str(c.get("clause_id", "")))}</code> '
            f"{html.escape(heading)}</summary><div>{html.escape(text[:3000])}</div></details>")
    return "".join(cards)


def _tool(result: dict[str, Any], name: str) -> dict[str, Any] | None:
    for call in reversed(result.get("tool_calls") or []):
        if call.get("name") == name and call.get("ok", True) and "error" not in (call.get("result") or {}):
            return call.get("result") or {}
    return None


def breakdown_frame(result: dict[str, Any], lang: str) -> Any | None:
    """The quote tool's ``breakdown`` as a table (None when no quote ran)."""
    import pandas as pd

    quote = _tool(result, "quote")
    steps = (quote or {}).get("breakdown") or []
    if not steps:
        return None
    rows = [[str(s.get("step", "")), str(s.get("basis") or s.get("formula") or ""),
             s.get("value") if s.get("value") is not None else "", s.get("subtotal")] for s in steps]
    return pd.DataFrame(rows, columns=[_t(lang, "step"), _t(lang, "basis"), _t(lang, "factor"), _t(lang, "subtotal")])


def simulation_frame(result: dict[str, Any], lang: str) -> Any | None:
    """Before/after premiums of ``simulate_premium`` for the bar chart (None when it did not run)."""
    import pandas as pd

    sim = _tool(result, "simulate_premium")
    if not sim:
        return None
    before, after = sim.get("before_premium"), sim.get("after_premium")
    if before is None or after is None:
        return None
    return pd.DataFrame({"label": [_t(lang, "before"), _t(lang, "after")],
                         "premium": [float(before), float(after)]})


def banner_html(handoff: dict[str, Any] | None, lang: str) -> str:
    """The hand-off banner ("" when no human is involved)."""
    h = handoff or {}
    status = h.get("status")
    if status == "pending" and h.get("active", True):
        n = h.get("queue_position")
        text = _t(lang, "queue", n=n) if n else _t(lang, "queue_unknown")
        return f'<div class="anxin-banner">{html.escape(text)}</div>'
    if status == "taken":
        name = h.get("taken_by")
        text = _t(lang, "taken", name=name) if name else _t(lang, "taken_anon")
        return f'<div class="anxin-banner taken">{html.escape(text)}</div>'
    return ""


def notice_html(text: str, kind: str = "warn") -> str:
    """A notice above the text box (``kind``: ``warn``, ``error`` or ``info``)."""
    if not text:
        return ""
    css = {"error": "anxin-notice error", "info": "anxin-notice info"}.get(kind, "anxin-notice")
    return f'<div class="{css}" role="status">{html.escape(text)}</div>'


def query_language(request: Any) -> str:
    """``en`` when the page URL asks for English (``?lang=en``, ``en-US``...), else ``zh``."""
    try:
        params = getattr(request, "query_params", None) or {}
        wanted = str(params.get("lang") or "").strip().lower()
    except Exception:  # noqa: BLE001 - no request (e.g. called from the API): the default
        wanted = ""
    return "en" if wanted.startswith("en") else "zh"


def staff_bubble(message: dict[str, Any], lang: str) -> dict[str, str]:
    """A staff or system message as a chat bubble."""
    if message.get("role") == "staff":
        who = _t(lang, "advisor") + (f" {message['author']}" if message.get("author") else "")
        return {"role": "assistant", "content": f"**👤 {who}：** {message['text']}" if lang == "zh"
                else f"**👤 {who}:** {message['text']}"}
    return {"role": "assistant", "content": f"_{message['text']}_"}


# --------------------------------------------------------------------------- the handlers
#: Outputs of the send events: chatbot, textbox, audio, state, clause cards, quote table,
#: chart, hand-off banner, notice.
N_OUTPUTS = 9


class WidgetHandlers:
    """The widget's event handlers on one :class:`AnxinService`.

    ``send_text`` and ``send_voice`` are generators yielding the 9 outputs of
    :data:`N_OUTPUTS` (``gr.update()`` for "unchanged"); the per-browser ``state`` is a
    dict from :meth:`new_state`.
    """

    def __init__(self, service: AnxinService) -> None:
        self.svc = service

    @staticmethod
    def new_state(lang: str = "zh") -> dict[str, Any]:
        return {"sid": None, "lang": lang, "last_poll": 0, "busy": False, "handoff": None}

    def ensure_session(self, state: dict[str, Any]) -> str:
        if not state.get("sid"):
            sid, _token = self.svc.create_session(state.get("lang") or "zh", "web")
            state["sid"] = sid
        return state["sid"]

    @staticmethod
    def extras(result: dict[str, Any], lang: str) -> tuple[Any, Any, Any, Any]:
        table = breakdown_frame(result, lang)
        chart = simulation_frame(result, lang)
        return (citations_html(result.get("citations") or [], lang),
                gr.update(value=table, visible=table is not None),
                gr.update(value=chart, visible=chart is not None, y_title=_t(lang, "premium")),
                banner_html(result.get("handoff"), lang))

    @staticmethod
    def _unchanged() -> tuple[Any, ...]:
        return tuple(gr.update() for _ in range(N_OUTPUTS))

    def run_turn(self, history: list[dict[str, Any]], state: dict[str, Any], *, text: str | None = None,
                 audio: str | None = None, heard: str | None = None) -> Iterator[tuple[Any, ...]]:
        """Stream one turn: yields (chatbot, textbox, audio, state, citations, table, chart,
        banner, notice). ``heard``: what speech recognition already heard of ``audio``."""
        lang = state.get("lang") or "zh"
        history = list(history or [])
        if text is not None:
            user_text = text
        else:
            user_text = _t(lang, "voice_prefix") + (heard or _t(lang, "voice_unheard"))
        history += [{"role": "user", "content": user_text}, {"role": "assistant", "content": _t(lang, "thinking")}]
        skip = gr.update()
        yield history, "", None, state, skip, skip, skip, skip, ""
        pieces: queue.Queue[str | None] = queue.Queue()
        holder: dict[str, Any] = {}
        state["busy"] = True
        svc = self.svc

        def work() -> None:
            try:
                sid = self.ensure_session(state)
                if audio is not None:
                    holder["result"] = svc.send_audio(sid, audio, language=lang, on_token=pieces.put)
                else:
                    holder["result"] = svc.send_text(sid, text or "", on_token=pieces.put)
            except Exception as exc:  # noqa: BLE001 - shown as a polite error
                log.exception("widget turn failed")
                holder["error"] = exc
            finally:
                pieces.put(None)

        threading.Thread(target=work, name="anxin-widget-turn", daemon=True).start()
        partial = ""
        try:
            while True:
                try:
                    piece = pieces.get(timeout=TURN_TIMEOUT_S)
                except queue.Empty:
                    holder.setdefault("error", TimeoutError("turn timed out"))
                    break
                if piece is None:
                    break
                partial += piece
                while True:  # drain what is already there: fewer, larger updates
                    try:
                        nxt = pieces.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        pieces.put(None)
                        break
                    partial += nxt
                history[-1] = {"role": "assistant", "content": partial}
                yield history, skip, skip, state, skip, skip, skip, skip, skip
        finally:
            state["busy"] = False
        result = holder.get("result")
        if result is None:
            history[-1] = {"role": "assistant", "content": _t(lang, "error")}
            yield history, skip, None, state, skip, skip, skip, skip, skip
            return
        data = result.model_dump(mode="json")
        if audio is not None:
            said = data.get("transcript") or heard
            history[-2] = {"role": "user", "content": _t(lang, "voice_prefix") + (said or _t(lang, "voice_unheard"))}
        history[-1] = {"role": "assistant", "content": data["reply"]}
        state["handoff"] = data.get("handoff")
        cites, table, chart, banner = self.extras(data, lang)
        yield history, skip, None, state, cites, table, chart, banner, skip

    def send_text(self, text: str, history: list[dict[str, Any]], state: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
        """A typed message (also a confirmed or edited transcript)."""
        if not (text or "").strip():
            yield self._unchanged()
            return
        yield from self.run_turn(history, state, text=text.strip())

    def send_voice(self, audio: str | None, history: list[dict[str, Any]],
                   state: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
        """A recording (microphone or upload): transcribe it first. An error is shown and
        nothing is sent; a low-confidence transcript goes into the text box with a notice,
        for the customer to confirm or edit and send; otherwise it is sent as a voice turn."""
        lang = state.get("lang") or "zh"
        skip = gr.update()
        if not audio:
            yield skip, skip, skip, state, skip, skip, skip, skip, notice_html(_t(lang, "no_audio"), "info")
            return
        yield skip, skip, skip, state, skip, skip, skip, skip, notice_html(_t(lang, "listening"), "info")
        try:
            heard = self.svc.transcribe(audio, language=lang)
        except Exception:  # noqa: BLE001 - shown as a polite error
            log.exception("widget transcription failed")
            heard = {"error": {"zh": TEXT["zh"]["error"], "en": TEXT["en"]["error"]}}
        error = heard.get("error")
        if error:
            if isinstance(error, dict):
                message = error.get(lang) or error.get("zh") or error.get("en")
            else:
                message = str(error)
            yield skip, skip, None, state, skip, skip, skip, skip, notice_html(str(message or _t(lang, "error")), "error")
            return
        text = str(heard.get("text") or "").strip()
        if heard.get("low_confidence") or not text:
            # Not sure what was said: the customer confirms or edits it, then presses Send.
            yield skip, text, None, state, skip, skip, skip, skip, notice_html(_t(lang, "confirm"))
            return
        yield from self.run_turn(history, state, audio=audio, heard=text)

    def poll(self, history: list[dict[str, Any]], state: dict[str, Any]) -> tuple[Any, Any]:
        """Staff messages and hand-off notices since the last poll, and the banner."""
        sid = state.get("sid")
        if not sid or state.get("busy"):
            return gr.update(), gr.update()
        try:
            msgs, handoff = self.svc.messages_after(sid, state.get("last_poll", 0), roles=("staff", "system"))
        except Exception:  # noqa: BLE001 - a failed poll is retried on the next tick
            log.debug("poll failed", exc_info=True)
            return gr.update(), gr.update()
        lang = state.get("lang") or "zh"
        banner = banner_html(handoff, lang)
        changed_banner = handoff != state.get("handoff")
        state["handoff"] = handoff
        if not msgs:
            return gr.update(), (banner if changed_banner else gr.update())
        state["last_poll"] = msgs[-1]["id"]
        history = list(history or []) + [staff_bubble(m, lang) for m in msgs]
        return history, banner

    @staticmethod
    def set_language(lang: str, state: dict[str, Any]) -> tuple[Any, ...]:
        """Every label in ``lang``; the last output is the language radio (value and label)."""
        state["lang"] = lang if lang in TEXT else "zh"
        lang = state["lang"]
        return (state, _t(lang, "title"), _t(lang, "subtitle"),
                gr.update(label=_t(lang, "chat")),
                gr.update(placeholder=_t(lang, "placeholder"), label=_t(lang, "chat")),
                gr.update(value=_t(lang, "send")),
                gr.update(label=_t(lang, "voice")),
                gr.update(label=_t(lang, "audio")),
                gr.update(value=_t(lang, "send_voice")),
                gr.update(label=_t(lang, "clauses")),
                gr.update(label=_t(lang, "breakdown")),
                gr.update(label=_t(lang, "chart")),
                banner_html(state.get("handoff"), lang),
                gr.update(value=lang, label=_t(lang, "language")))

    def on_load(self, state: dict[str, Any], request: gr.Request) -> tuple[Any, ...]:
        """Page load: the language from ``?lang=`` (default Chinese), every label in it."""
        return self.set_language(query_language(request), state)


# --------------------------------------------------------------------------- the app
def build(service: AnxinService | None = None) -> gr.Blocks:
    """The customer widget as a Gradio Blocks app."""
    h = WidgetHandlers(service or default_service())

    with gr.Blocks(title="安心 Anxin", analytics_enabled=False, fill_width=False) as demo:
        state = gr.State(h.new_state())
        with gr.Row(equal_height=True):
            with gr.Column(scale=5):
                title = gr.Markdown(_t("zh", "title"))
                subtitle = gr.Markdown(_t("zh", "subtitle"))
            lang_radio = gr.Radio(LANG_CHOICES, value="zh", label=_t("zh", "language"), scale=1, min_width=160)
        banner = gr.HTML("")
        chat = gr.Chatbot(label=_t("zh", "chat"), height=460, buttons=["copy"], feedback_options=None,
                          sanitize_html=True, render_markdown=True)
        notice = gr.HTML("")
        with gr.Row():
            box = gr.Textbox(placeholder=_t("zh", "placeholder"), label=_t("zh", "chat"), show_label=False,
                             lines=1, max_lines=6, max_length=4000, scale=8, autofocus=True)
            send = gr.Button(_t("zh", "send"), variant="primary", scale=1, min_width=90)
        with gr.Accordion(_t("zh", "voice"), open=False) as voice_box:
            audio = gr.Audio(sources=["microphone", "upload"], type="filepath", label=_t("zh", "audio"))
            send_audio = gr.Button(_t("zh", "send_voice"))
        with gr.Accordion(_t("zh", "clauses"), open=False) as clause_box:
            clauses = gr.HTML("")
        table = gr.Dataframe(label=_t("zh", "breakdown"), visible=False, interactive=False, wrap=True)
        chart = gr.BarPlot(x="label", y="premium", label=_t("zh", "chart"), visible=False, sort=None,
                           y_title=_t("zh", "premium"), x_title=" ", height=260)
        timer = gr.Timer(POLL_SECONDS)

        outputs = [chat, box, audio, state, clauses, table, chart, banner, notice]
        send.click(h.send_text, [box, chat, state], outputs, concurrency_limit=None, **_api("send_text"))
        box.submit(h.send_text, [box, chat, state], outputs, concurrency_limit=None, **PRIVATE)
        send_audio.click(h.send_voice, [audio, chat, state], outputs, concurrency_limit=None, **_api("send_voice"))
        timer.tick(h.poll, [chat, state], [chat, banner], show_progress="hidden", concurrency_limit=None, **PRIVATE)
        labelled = [state, title, subtitle, chat, box, send, voice_box, audio, send_audio, clause_box,
                    table, chart, banner, lang_radio]
        # ``input``: the customer's clicks only (the load event below sets the radio too).
        lang_radio.input(h.set_language, [lang_radio, state], labelled, show_progress="hidden", **PRIVATE)
        demo.load(h.on_load, [state], labelled, show_progress="hidden", **PRIVATE)
    return demo


__all__ = ["build", "theme", "CSS", "citations_html", "breakdown_frame", "simulation_frame", "banner_html",
           "notice_html", "query_language", "WidgetHandlers", "N_OUTPUTS", "TEXT"]
