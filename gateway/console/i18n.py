"""The citizen view's words, in Chinese and English (Chinese text keeps its full-width
punctuation)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "title": {"zh": "个人信息共享记录", "en": "Who received my data"},
    "intro": {
        "zh": "以下是政府部门之间共享您的数据的全部记录：哪个部门、哪些字段、如何脱敏、依据和用途、是否已读取。",
        "en": "Every time a government department received your data through the bus: "
        "which department, which fields and how they were masked, on what legal basis and "
        "for what purpose, and whether it has read them.",
    },
    "identifier": {"zh": "证件号码", "en": "Identifier"},
    "assertion": {"zh": "登录凭证（门户签发）", "en": "Login assertion (from the portal)"},
    "ask": {"zh": "查询", "en": "Show the report"},
    "recipient": {"zh": "接收部门", "en": "Recipient"},
    "event_type": {"zh": "事项", "en": "Event"},
    "source": {"zh": "提供部门", "en": "Provided by"},
    "fields": {"zh": "字段（脱敏方式）", "en": "Fields (masking)"},
    "basis": {"zh": "法律依据 · 用途", "en": "Legal basis · purpose"},
    "delivered_at": {"zh": "共享时间", "en": "Delivered"},
    "read": {"zh": "已读取", "en": "Read"},
    "unread": {"zh": "未读取", "en": "Not read yet"},
    "amendment": {"zh": "更正", "en": "Correction"},
    "none": {"zh": "没有共享记录。", "en": "Your data has not been shared."},
    "count": {"zh": "条记录", "en": "deliveries"},
}
RULES: dict[str, dict[str, str]] = {
    "clear": {"zh": "明文", "en": "in clear"},
    "mask": {"zh": "部分遮盖", "en": "partly hidden"},
    "pseudonym": {"zh": "假名化", "en": "pseudonymised"},
    "redact": {"zh": "删除", "en": "removed"},
    "generalize.year": {"zh": "仅年份", "en": "year only"},
    "generalize.year_month": {"zh": "仅年月", "en": "year and month only"},
    "generalize.district": {"zh": "仅到区县", "en": "district only"},
    "generalize.age_band": {"zh": "年龄段", "en": "age band"},
}
