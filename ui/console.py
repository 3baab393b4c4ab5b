"""The staff copilot console (Gradio), mounted at ``/staff`` by :mod:`anxin.ui.server`.

Log in with the staff token (``ANXIN_STAFF_TOKEN``; accounts come with the hardening
issue). Then: the hand-off queue and the live sessions, ordered by urgency and the
customer's emotion (refreshed every 5 s; click a row to open it); for one session the
transcript, an intent/emotion timeline chart, the verified customer and policies, the
clauses the bot relied on, the next best action, a one-click summary, an editable
suggested reply with Send, and Take over / Return to bot. Every action calls
:class:`~anxin.ui.services.AnxinService`, exactly as the ``/api/staff`` endpoints do.
"""
from __future__ import annotations

import html
import logging
import os
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # never phone home; set before importing gradio

import gradio as gr  # noqa: E402

from anxin.ui.auth import StaffUser, clean_staff_name, verify_staff_token  # noqa: E402
from anxin.ui.services import AnxinService, ServiceError, default_service  # noqa: E402
from anxin.ui.widget import citations_html  # noqa: E402

#: UI events are for the page itself: the HTTP API is the programmatic interface.
PRIVATE: dict[str, Any] = {"api_visibility": "private"}

log = logging.getLogger("anxin.ui.console")

REFRESH_SECONDS = 5.0
QUEUE_COLUMNS = ["工单 Ticket", "会话 Session", "状态 Status", "紧急 Urgency", "情绪 Emotion", "意图 Intent",
                 "等待 Waiting", "原因 Reason", "顾问 Taken by"]
LIVE_COLUMNS = ["会话 Session", "最近活动 Last activity", "消息 Msgs", "意图 Intent", "情绪 Emotion",
                "转人工 Hand-off", "紧急 Urgency", "语言 Lang", "客户 Customer"]
POLICY_COLUMNS = ["保单号 Policy", "产品 Product", "状态 Status", "角色 Role", "生效 Start", "保费 Premium"]
EMOTION_ICON = {"anger": "😠", "sadness": "😢", "anxiety": "😟", "confusion": "😕", "joy": "🙂", "neutral": "😐"}

CSS = """
.anxin-clause {border:1px solid #e3e3e3;border-radius:8px;padding:.4em .8em;margin:.4em 0;background:#fafafa}
.anxin-clause summary {cursor:pointer}
.anxin-clause code {background:#eef;padding:0 .3em;border-radius:4px}
.anxin-clause div {white-space:pre-wrap;margin-top:.4em;font-size:.95em}
.anxin-nba {background:#eef6ff;border-left:4px solid #3b82f6;padding:.5em .8em;border-radius:4px}
footer {display:none !important}
"""


def theme() -> Any:
    """The console theme (system fonts only)."""
    return gr.themes.Default(primary_hue="blue",
                             font=["system-ui", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "sans-serif"],
                             font_mono=["ui-monospace", "Consolas", "monospace"])


def _frame(rows: list[list[Any]], columns: list[str]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def _waiting(seconds: int | None) -> str:
    s = int(seconds or 0)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _emotion(label: str | None, score: float | None = None) -> str:
    label = label or "neutral"
    icon = EMOTION_ICON.get(label, "")
    return f"{icon} {label}" + (f" {score:.2f}" if score else "")


def queue_frame(items: list[dict[str, Any]]) -> Any:
    """The hand-off queue as a table."""
    rows = [[i["ticket_id"], i["session_id"], i["status"], i["urgency"], _emotion(i["emotion"], i["emotion_score"]),
             i.get("intent") or "", _waiting(i.get("waiting_s")), i.get("reason") or "", i.get("taken_by") or ""]
            for i in items]
    return _frame(rows, QUEUE_COLUMNS)


def live_frame(items: list[dict[str, Any]]) -> Any:
    """The live sessions as a table."""
    rows = [[s["session_id"], (s.get("last_activity") or "")[:19].replace("T", " "), s["messages"], s.get("intent") or "",
             _emotion(s["emotion"], s["emotion_score"]), s["handoff"], s.get("urgency") or "", s.get("language") or "",
             s.get("verified_customer_id") or ""] for s in items]
    return _frame(rows, LIVE_COLUMNS)


def transcript_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The transcript as chat bubbles, each customer message annotated with intent and emotion."""
    out = []
    for m in messages:
        text = m.get("text") or ""
        if m["role"] == "user":
            note = f"`{m.get('intent') or '-'} · {_emotion(m.get('emotion'), m.get('emotion_score'))}`"
            out.append({"role": "user", "content": f"{text}\n\n{note}"})
        elif m["role"] == "assistant":
            out.append({"role": "assistant", "content": f"🤖 {text}"})
        elif m["role"] == "staff":
            out.append({"role": "assistant", "content": f"**👤 {m.get('author') or 'staff'}:** {text}"})
        else:
            out.append({"role": "assistant", "content": f"_{text}_"})
    return out


def timeline_frame(timeline: list[dict[str, Any]]) -> Any:
    """Intent and emotion per customer turn, for the chart."""
    rows = [[t["turn"], float(t.get("score") or 0.0), t.get("emotion") or "neutral", t.get("intent") or "-"]
            for t in timeline]
    return _frame(rows, ["turn", "score", "emotion", "intent"])


def profile_markdown(view: dict[str, Any]) -> str:
    """The verified customer (or a note that nobody verified)."""
    c = view.get("customer")
    if not c:
        return "_客户未验证身份 · Customer not verified in this session._"
    name = c.get("name") or {}
    city = c.get("city") or {}
    occupation = c.get("occupation") or {}
    lines = [
        f"**{html.escape(str(name.get('zh', '')))} / {html.escape(str(name.get('en', '')))}** (`{c['customer_id']}`)",
        f"- 性别 Gender: {c.get('gender') or '-'} · 年龄 Age: {c.get('age') if c.get('age') is not None else '-'}",
        f"- 城市 City: {city.get('zh', '') if isinstance(city, dict) else city} · "
        f"职业 Occupation: {occupation.get('zh', '') if isinstance(occupation, dict) else occupation} "
        f"(class {c.get('occupation_class') or '-'})",
        f"- 吸烟 Smoker: {c.get('smoker')} · 社保 Social insurance: {c.get('social_insurance')}",
        f"- 电话 Phone: {c.get('phone_masked') or '-'} · 语言 Language: {c.get('preferred_language') or '-'}",
    ]
    return "\n".join(lines)


def policies_frame(view: dict[str, Any]) -> Any:
    """The customer's policies."""
    rows = [[p["policy_number"], p["product_id"], p["status"], p["role"], p.get("start_date") or "",
             f"{p['premium']:,.2f} / {p.get('premium_frequency') or ''}" if p.get("premium") is not None else ""]
            for p in view.get("policies") or []]
    return _frame(rows, POLICY_COLUMNS)


def header_markdown(view: dict[str, Any]) -> str:
    """One line about the session and its hand-off state."""
    s, h = view["session"], view["handoff"]
    state = h["status"]
    extra = ""
    if state == "pending":
        extra = f" · 排队第 {h.get('queue_position') or '-'} 位 queue #{h.get('queue_position') or '-'}"
    elif state == "taken":
        extra = f" · 顾问 taken by **{h.get('taken_by') or '-'}**"
    ticket = f" · 工单 `{h['ticket_id']}`" if h.get("ticket_id") else ""
    return (f"### 会话 Session `{s['session_id']}`\n语言 {s.get('language') or '-'} · 渠道 {s.get('channel') or '-'} · "
            f"转人工 hand-off **{state}**{extra}{ticket}")


def nba_html(view: dict[str, Any]) -> str:
    """The next best action box."""
    nba = view.get("next_best_action")
    if not nba:
        return "<p><i>暂无建议 · No suggestion yet.</i></p>"
    actions = "".join(f"<li>{html.escape(a)}</li>" for a in view.get("suggested_actions") or [])
    return f'<div class="anxin-nba"><b>下一步 Next best action:</b> {html.escape(nba)}' + (
        f"<ul>{actions}</ul>" if actions else "") + "</div>"


def build(service: AnxinService | None = None) -> gr.Blocks:
    """The staff console as a Gradio Blocks app."""
    svc = service or default_service()

    def user_of(staff: dict[str, Any]) -> StaffUser:
        if not staff or not verify_staff_token(staff.get("token")):
            raise gr.Error("请先登录 · Please log in with the staff token.")
        return StaffUser(name=staff.get("name") or "staff")

    def login(name: str, token: str, staff: dict[str, Any]) -> tuple[Any, ...]:
        if not verify_staff_token(token):
            return staff, gr.update(), gr.update(), "❌ 令牌无效 · Invalid staff token.", ""
        staff = {"token": token.strip(), "name": clean_staff_name(name)}
        return (staff, gr.update(visible=False), gr.update(visible=True), "",
                f"已登录 Logged in as **{staff['name']}**")

    def refresh(staff: dict[str, Any]) -> tuple[Any, ...]:
        if not staff or not verify_staff_token(staff.get("token")):
            return gr.update(), gr.update(), gr.update()
        queue = svc.staff_queue()
        live = svc.live_sessions()
        choices = list(dict.fromkeys([q["session_id"] for q in queue] + [s["session_id"] for s in live]))
        return queue_frame(queue), live_frame(live), gr.update(choices=choices)

    def load_view(session_id: str | None, staff: dict[str, Any]) -> tuple[Any, ...]:
        user = user_of(staff)
        if not session_id:
            return ("_选择一个会话 · Pick a session._", [], None, "", _frame([], POLICY_COLUMNS), "", "")
        try:
            view = svc.staff_session(session_id.strip(), user)
        except ServiceError as exc:
            raise gr.Error(exc.message) from None
        return (header_markdown(view), transcript_messages(view["messages"]), timeline_frame(view["timeline"]),
                profile_markdown(view), policies_frame(view), citations_html(view["citations"], "zh"), nba_html(view))

    def open_session(session_id: str | None, staff: dict[str, Any]) -> tuple[Any, ...]:
        return (session_id, *load_view(session_id, staff))

    def pick(evt: gr.SelectData, staff: dict[str, Any], column: int) -> tuple[Any, ...]:
        row = evt.row_value or []
        sid = str(row[column]) if len(row) > column else None
        return (sid, sid, *load_view(sid, staff))

    def pick_queue(evt: gr.SelectData, staff: dict[str, Any]) -> tuple[Any, ...]:
        return pick(evt, staff, 1)

    def pick_live(evt: gr.SelectData, staff: dict[str, Any]) -> tuple[Any, ...]:
        return pick(evt, staff, 0)

    def tick(session_id: str | None, staff: dict[str, Any]) -> tuple[Any, ...]:
        lists = refresh(staff)
        if not session_id or not staff or not verify_staff_token(staff.get("token")):
            return (*lists, gr.update(), gr.update())
        try:
            view = svc.staff_session(session_id, user_of(staff))
        except ServiceError:
            return (*lists, gr.update(), gr.update())
        return (*lists, header_markdown(view), transcript_messages(view["messages"]))

    def act(kind: str, session_id: str | None, reply: str, staff: dict[str, Any]) -> tuple[Any, ...]:
        user = user_of(staff)
        if not session_id:
            raise gr.Error("请先选择会话 · Pick a session first.")
        new_reply = gr.update()
        try:
            if kind == "take":
                r = svc.take(session_id, user)
                note = f"✅ 已接管 Taken over ({r['ticket_id']})"
            elif kind == "return":
                r = svc.return_to_bot(session_id, user)
                note = f"✅ 已交还智能顾问 Returned to the bot ({', '.join(r['closed'])})"
            elif kind == "send":
                svc.staff_send(session_id, reply, user)
                note, new_reply = "✅ 已发送 Sent", ""
            else:  # suggest
                s = svc.suggest(session_id, user)
                note, new_reply = "💡 建议回复已填入，可编辑后发送 · Suggestion ready: edit, then send.", s["text"]
        except ServiceError as exc:
            raise gr.Error(exc.message) from None
        return (note, new_reply, *load_view(session_id, staff))

    def summarize(session_id: str | None, staff: dict[str, Any]) -> str:
        user_of(staff)
        if not session_id:
            raise gr.Error("请先选择会话 · Pick a session first.")
        try:
            s = svc.summary(session_id)
        except ServiceError as exc:
            raise gr.Error(exc.message) from None
        source = "工单 ticket" if s["source"] == "ticket" else "自动生成 generated"
        nba = s.get("next_best_action") or ""
        nba = f"\n\n下一步 Next best action: {nba}" if nba and nba not in s["summary"] else ""
        return f"[{source}]\n{s['summary']}{nba}"

    with gr.Blocks(title="安心 Anxin · 坐席控制台 Staff console", analytics_enabled=False) as demo:
        staff = gr.State({})
        current = gr.State(None)
        gr.Markdown("## 安心 · 坐席副驾 Staff copilot console")
        with gr.Column(visible=True) as login_col:
            name = gr.Textbox(label="姓名 Your name", placeholder="wang", max_length=64)
            token = gr.Textbox(label="坐席令牌 Staff token", type="password")
            login_btn = gr.Button("登录 Log in", variant="primary")
            login_msg = gr.Markdown("")
        with gr.Column(visible=False) as main_col:
            with gr.Row():
                whoami = gr.Markdown("")
                refresh_btn = gr.Button("刷新 Refresh", size="sm", scale=0, min_width=120)
            with gr.Row():
                with gr.Column(scale=1):
                    gr.Markdown("#### 转人工队列 Hand-off queue")
                    queue_df = gr.Dataframe(_frame([], QUEUE_COLUMNS), interactive=False, wrap=True, max_height=260)
                with gr.Column(scale=1):
                    gr.Markdown("#### 进行中的会话 Live sessions")
                    live_df = gr.Dataframe(_frame([], LIVE_COLUMNS), interactive=False, wrap=True, max_height=260)
            with gr.Row():
                session_dd = gr.Dropdown(label="会话 Session", choices=[], allow_custom_value=True, scale=4)
                open_btn = gr.Button("打开 Open", scale=1)
            with gr.Row():
                with gr.Column(scale=3):
                    header = gr.Markdown("_选择一个会话 · Pick a session._")
                    transcript = gr.Chatbot(label="对话记录 Transcript", height=420, feedback_options=None)
                    timeline = gr.ScatterPlot(x="turn", y="score", color="emotion", label="意图与情绪 Intent & emotion",
                                              tooltip=["turn", "intent", "emotion", "score"], height=220,
                                              x_title="turn", y_title="emotion intensity")
                with gr.Column(scale=2):
                    with gr.Tab("客户 Customer"):
                        profile = gr.Markdown("")
                        policies = gr.Dataframe(_frame([], POLICY_COLUMNS), interactive=False, wrap=True,
                                                label="保单 Policies")
                    with gr.Tab("条款 Clauses"):
                        clauses = gr.HTML("")
                    with gr.Tab("摘要 Summary"):
                        summary_btn = gr.Button("一键摘要 Summarise")
                        summary_box = gr.Textbox(label="摘要 Summary", lines=10, buttons=["copy"])
                    nba = gr.HTML("")
            reply = gr.Textbox(label="回复（可编辑）Reply (editable)", lines=4, max_length=4000)
            with gr.Row():
                suggest_btn = gr.Button("💡 建议回复 Suggest")
                send_btn = gr.Button("发送 Send", variant="primary")
                take_btn = gr.Button("接管 Take over", variant="secondary")
                return_btn = gr.Button("交还智能顾问 Return to bot", variant="stop")
            action_msg = gr.Markdown("")
        timer = gr.Timer(REFRESH_SECONDS)

        view_outputs = [header, transcript, timeline, profile, policies, clauses, nba]
        lists = [queue_df, live_df, session_dd]
        login_btn.click(login, [name, token, staff], [staff, login_col, main_col, login_msg, whoami], **PRIVATE).then(
            refresh, [staff], lists, **PRIVATE)
        token.submit(login, [name, token, staff], [staff, login_col, main_col, login_msg, whoami], **PRIVATE).then(
            refresh, [staff], lists, **PRIVATE)
        refresh_btn.click(refresh, [staff], lists, **PRIVATE)
        open_btn.click(open_session, [session_dd, staff], [current, *view_outputs], **PRIVATE)
        session_dd.select(open_session, [session_dd, staff], [current, *view_outputs], **PRIVATE)
        queue_df.select(pick_queue, [staff], [current, session_dd, *view_outputs], **PRIVATE)
        live_df.select(pick_live, [staff], [current, session_dd, *view_outputs], **PRIVATE)
        timer.tick(tick, [current, staff], [*lists, header, transcript], show_progress="hidden", **PRIVATE)
        for button, kind in ((take_btn, "take"), (return_btn, "return"), (send_btn, "send"), (suggest_btn, "suggest")):
            button.click(lambda sid, text, st, _k=kind: act(_k, sid, text, st), [current, reply, staff],
                         [action_msg, reply, *view_outputs], **PRIVATE)
        summary_btn.click(summarize, [current, staff], [summary_box], **PRIVATE)
    return demo


__all__ = ["build", "theme", "CSS", "queue_frame", "live_frame", "transcript_messages", "timeline_frame"]
