"""Structured tool errors with the filing's error codes and bilingual messages."""
from __future__ import annotations

from typing import Any

from anxin.knowledge.filing import load_catalog, load_underwriting


def _message_table() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    table.update(load_underwriting().get("matching", {}).get("errors", {}))
    table.update(load_catalog()["general"]["error_codes"])
    return table


# Codes the tools use beyond the filing's own (same shape: zh/en).
EXTRA_CODES: dict[str, dict[str, str]] = {
    "MALFORMED_REQUEST": {"zh": "请求格式不正确", "en": "malformed request"},
    "UNKNOWN_TOOL": {"zh": "工具不存在", "en": "unknown tool"},
    "NOT_VERIFIED": {"zh": "请先完成身份验证", "en": "identity verification required"},
    "VERIFICATION_FAILED": {"zh": "身份验证未通过", "en": "identity verification failed"},
    "VERIFICATION_LOCKED": {"zh": "验证失败次数过多，请稍后再试或联系人工客服", "en": "too many failed verification attempts; try later or ask for a human advisor"},
    "NOT_FOUND": {"zh": "未找到相关记录", "en": "record not found"},
    "FORBIDDEN": {"zh": "无权查看该记录", "en": "not allowed to view this record"},
    "INTERNAL_ERROR": {"zh": "系统暂时无法处理该请求", "en": "the request could not be processed"},
    "POLICY_NOT_IN_FORCE": {"zh": "出险时保单不在保障有效期内", "en": "the policy was not in force on the incident date"},
}


class ToolError(Exception):
    """A tool failure the caller can act on: a filing error code plus zh/en messages.

    ``detail`` names what was wrong (the parameter, the value); it is appended to the
    standard message of the code in both languages.
    """

    def __init__(self, code: str, detail: str = "", field: str | None = None) -> None:
        self.code = code
        self.detail = detail
        self.field = field
        texts = {**_message_table(), **EXTRA_CODES}.get(code, {"zh": code, "en": code})
        suffix = f": {detail}" if detail else ""
        self.message_en = f"{texts['en']}{suffix}"
        self.message_zh = f"{texts['zh']}{'：' + detail if detail else ''}"
        super().__init__(f"{code}: {self.message_en}")

    @property
    def message(self) -> str:
        """Both languages in one line, English first."""
        return f"{self.message_en} / {self.message_zh}"

    def to_dict(self) -> dict[str, Any]:
        """The wire form: ``{"error": {"code", "message", "message_zh", "message_en", "field"}}``."""
        err: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }
        if self.field:
            err["field"] = self.field
        return {"error": err}
