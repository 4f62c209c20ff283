"""Notices huatu shows to people, in English and Simplified Chinese.

Python code produces :class:`Notice` values (a key and its parameters); each edge renders
them in the person's language with :func:`render`. The language comes from the browser's
``Accept-Language`` header (:func:`language_from_header`) or the CLI's locale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LANGUAGES = ("en", "zh-CN")
DEFAULT_LANGUAGE = "en"

CATALOG: dict[str, dict[str, str]] = {
    "en": {
        "non_english_prompt": (
            "The {field} contains {script} text, but the model only understands English; "
            "write the prompt in English for a usable image."
        ),
        "prompt_truncated": (
            "The {field} is {tokens} tokens long; the text encoder reads only the first "
            "{limit}, so the rest is ignored."
        ),
        "safety_flagged": (
            "{count} of {total} images were flagged by the model's safety checker and withheld."
        ),
        "test_model": "This is the built-in test model: it draws noise, not pictures.",
        "vae_fp32_retry": (
            "The image came out black (the VAE overflowed in {dtype}); it was decoded again "
            "in float32."
        ),
        "seed_used": "Seed: {seeds}",
    },
    "zh-CN": {
        "non_english_prompt": (
            "{field}中含有{script}文字，但模型只懂英文；请用英文书写提示，才能得到可用的图片。"
        ),
        "prompt_truncated": (
            "{field}共 {tokens} 个词元，文本编码器只读取前 {limit} 个，其余部分将被忽略。"
        ),
        "safety_flagged": "{total} 张图片中有 {count} 张被模型的安全检查器标记，已不予显示。",
        "test_model": "这是内置的测试模型：它只会画出噪点，不会画出真正的图片。",
        "vae_fp32_retry": "图片变成了黑色（VAE 在 {dtype} 下数值溢出），已改用 float32 重新解码。",
        "seed_used": "种子：{seeds}",
    },
}

FIELD_NAMES: dict[str, dict[str, str]] = {
    "en": {"prompt": "prompt", "negative_prompt": "negative prompt"},
    "zh-CN": {"prompt": "提示", "negative_prompt": "负面提示"},
}

SCRIPT_NAMES: dict[str, dict[str, str]] = {
    "en": {"cjk": "Chinese/Japanese/Korean", "other": "non-Latin"},
    "zh-CN": {"cjk": "中日韩", "other": "非拉丁"},
}


@dataclass(frozen=True)
class Notice:
    """Something a person should know about their request.

    Attributes:
        key: the message key in :data:`CATALOG`.
        params: values for the message's placeholders. ``field`` and ``script`` values are
            themselves translated.
    """

    key: str
    params: dict[str, object] = field(default_factory=dict)


def language_from_header(accept_language: str | None) -> str:
    """Pick ``zh-CN`` or ``en`` from an ``Accept-Language`` header (first match wins).

    Any ``zh`` variant maps to ``zh-CN``; anything else, or no header, to English.
    """
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


def render(notice: Notice, language: str = DEFAULT_LANGUAGE) -> str:
    """Return ``notice`` as a sentence in ``language`` (``en`` or ``zh-CN``; default ``en``)."""
    language = language if language in CATALOG else DEFAULT_LANGUAGE
    params = dict(notice.params)
    if "field" in params:
        params["field"] = FIELD_NAMES[language].get(str(params["field"]), params["field"])
    if "script" in params:
        params["script"] = SCRIPT_NAMES[language].get(str(params["script"]), params["script"])
    return CATALOG[language][notice.key].format(**params)
