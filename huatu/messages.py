"""Notices huatu shows to people, in English and Simplified Chinese.

Python code produces :class:`Notice` values (a key and its parameters); each edge renders
them in the person's language with :func:`render`. The language comes from the browser's
``Accept-Language`` header (:func:`language_from_header`) or the CLI's locale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from huatu.errors import ValidationError

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
        "stopped": "Stopped.",
        "out_of_memory": (
            "The model ran out of memory making this image; try a smaller size or fewer "
            "images (or start huatu with --low-memory)."
        ),
        "queue_full": (
            "The server is busy: {waiting} requests are already waiting. Try again in a minute."
        ),
        "history_disk_full": "Could not save the image to {folder}: the disk is full.",
        "history_save_failed": "Could not save the image to {folder}: {reason}.",
        "session_queue_full": (
            "You already have {limit} generations queued or running; wait for one to finish."
        ),
        "stopped_run": "⏹ Stopped at step {step} of {total}; nothing was saved.",
        "step_progress": "Step {step}/{total} · about {eta} s left",
        "step_progress_no_eta": "Step {step}/{total}",
        "waiting": "Waiting for the hosted service… next try in {seconds} s",
        "waiting_no_time": "Waiting for the hosted service…",
        "queued_or_starting": "Starting…",
        "done": "Done: {count} image(s) in {seconds} s.",
        "status": "Backend **{backend}** · model **{model}** · {detail} — {reason}",
        "status_not_loaded": "⚠️ The model {model} is not loaded: {error}",
        "translation_ready": (
            "Check the English translation (you can edit it), then press Generate again."
        ),
        "translation_unavailable": (
            "Translation is not available ({reason}). You can type the English prompt yourself "
            "in the box below the prompt."
        ),
        "translated_with": "Translated with {translator}.",
        "glossary_saved": "Glossary saved ({count} terms).",
        "no_parameters": "This image carries no generation parameters.",
        "history_deleted": "Deleted.",
        "history_nothing_selected": "Select an image in the history first.",
        "info_nothing": "Drop a PNG made by huatu, AUTOMATIC1111 or Fooocus first.",
        "info_fields_skipped": "Left out values huatu cannot use here: {fields}.",
        "internal_error": (
            "Generation failed because of an internal error; the server log has the details."
        ),
        "fast_unavailable": (
            "The Fast preset needs the LCM-LoRA weights {weights}, which could not be loaded "
            "(not downloaded yet and no connection to the Hugging Face Hub, or not found); "
            "connect to the internet once so they download, or pick the Balanced preset."
        ),
        "taesd_unavailable": (
            "The fast decoder TAESD ({weights}) could not be loaded, so the image was decoded "
            "with the model's full VAE (slower)."
        ),
        "lcm_guidance": (
            "LCM works with a guidance scale of {limit} or less (1 turns guidance off); "
            "{guidance} may give over-saturated, burnt images."
        ),
        "lcm_not_hosted": (
            "The LCM sampler (Fast preset) runs only on the local backend; the hosted service "
            "used its own sampler."
        ),
        "fast_preset_fallback": (
            "The LCM-LoRA weights {weights} are not available (not downloaded yet and offline), "
            "so Fast uses DPM++ 2M Karras with 12 steps; connect to the internet once for the "
            "4-step LCM Fast preset."
        ),
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
        "stopped": "已停止。",
        "out_of_memory": (
            "生成这张图片时内存不足；请减小尺寸或图片数量（或用 --low-memory 启动 huatu）。"
        ),
        "queue_full": "服务器正忙：已有 {waiting} 个请求在等待。请稍后再试。",
        "history_disk_full": "无法把图片保存到 {folder}：磁盘已满。",
        "history_save_failed": "无法把图片保存到 {folder}：{reason}。",
        "session_queue_full": "你已有 {limit} 个生成任务在排队或运行；请等其中一个完成后再提交。",
        "stopped_run": "⏹ 已在第 {step}/{total} 步停止；没有保存任何图片。",
        "step_progress": "第 {step}/{total} 步 · 预计还需 {eta} 秒",
        "step_progress_no_eta": "第 {step}/{total} 步",
        "waiting": "正在等待托管服务…… {seconds} 秒后重试",
        "waiting_no_time": "正在等待托管服务……",
        "queued_or_starting": "正在开始……",
        "done": "完成：{count} 张图片，用时 {seconds} 秒。",
        "status": "后端 **{backend}** · 模型 **{model}** · {detail} — {reason}",
        "status_not_loaded": "⚠️ 模型 {model} 没有加载成功：{error}",
        "translation_ready": "请检查下面的英文翻译（可以修改），然后再次点击“生成”。",
        "translation_unavailable": (
            "无法翻译（{reason}）。你也可以在提示下方的输入框里自己填写英文提示。"
        ),
        "translated_with": "翻译来自 {translator}。",
        "glossary_saved": "术语表已保存（{count} 条）。",
        "no_parameters": "这张图片没有携带生成参数。",
        "history_deleted": "已删除。",
        "history_nothing_selected": "请先在历史记录中选择一张图片。",
        "info_nothing": "请先拖入一张由 huatu、AUTOMATIC1111 或 Fooocus 生成的 PNG 图片。",
        "info_fields_skipped": "以下数值在这里无法使用，已略过：{fields}。",
        "internal_error": "由于内部错误，生成失败；详情见服务器日志。",
        "fast_unavailable": (
            "“快速”预设需要 LCM-LoRA 权重 {weights}，但无法加载（尚未下载且无法连接 "
            "Hugging Face Hub，或找不到文件）；请联网一次让它下载，或改选“均衡”预设。"
        ),
        "taesd_unavailable": (
            "无法加载快速解码器 TAESD（{weights}），图片改用模型完整的 VAE 解码（较慢）。"
        ),
        "lcm_guidance": (
            "LCM 适合不超过 {limit} 的引导强度（1 即关闭引导）；{guidance} 可能让图片过曝。"
        ),
        "lcm_not_hosted": (
            "LCM 采样器（“快速”预设）只能在本地后端运行；托管服务使用了它自己的采样器。"
        ),
        "fast_preset_fallback": (
            "LCM-LoRA 权重 {weights} 不可用（尚未下载且处于离线状态），因此“快速”预设改用 "
            "DPM++ 2M Karras 12 步；联网一次即可使用 4 步的 LCM 快速预设。"
        ),
    },
}

FIELD_NAMES: dict[str, dict[str, str]] = {
    "en": {"prompt": "prompt", "negative_prompt": "negative prompt"},
    "zh-CN": {
        "prompt": "提示",
        "negative_prompt": "负面提示",
        "num_inference_steps": "推理步数",
        "guidance_scale": "引导强度",
        "width": "宽",
        "height": "高",
        "seed": "种子",
        "num_images": "图片数量",
        "scheduler": "采样器",
        "model": "模型",
    },
}

# Why a field's value was refused: ValidationError.reason → sentence part, per language.
REASONS: dict[str, dict[str, str]] = {
    "en": {
        "required": "is required",
        "unknown_field": "is not a request field",
        "text": "must be text",
        "empty": "must not be empty",
        "too_long": "must be at most {limit:,} characters",
        "nul": "must not contain NUL characters",
        "integer_range": "must be an integer from {low} to {high}",
        "seed_range": "must be -1 (random) or an integer from {low} to {high}",
        "seed_room": "must be at most {high} for {count} images (image i uses seed + i)",
        "number_range": "must be a number from {low:g} to {high:g}",
        "side": "must be an integer from {low} to {high} and a multiple of {multiple}",
        "choice": "must be one of {choices}",
        "local_only": "runs only on the local backend (use --backend local or auto)",
    },
    "zh-CN": {
        "required": "是必填项",
        "unknown_field": "不是请求中的字段",
        "text": "必须是文本",
        "empty": "不能为空",
        "too_long": "最多 {limit:,} 个字符",
        "nul": "不能包含 NUL 字符",
        "integer_range": "必须是 {low} 到 {high} 之间的整数",
        "seed_range": "必须是 -1（随机）或 {low} 到 {high} 之间的整数",
        "seed_room": "生成 {count} 张图片时不能大于 {high}（第 i 张使用 种子 + i）",
        "number_range": "必须是 {low:g} 到 {high:g} 之间的数",
        "side": "必须是 {low} 到 {high} 之间、{multiple} 的倍数的整数",
        "choice": "必须是以下之一：{choices}",
        "local_only": "只能在本地后端运行（请使用 --backend local 或 auto）",
    },
}
VALIDATION_SENTENCE = {
    "en": "`{field}` {reason}, but is {value}.",
    "zh-CN": "`{field}`{name}{reason}，但现在是 {value}。",
}

# Fixed English phrases shown inside otherwise translated lines (backend choice reasons).
PHRASES: dict[str, dict[str, str]] = {
    "zh-CN": {
        "chosen with --backend hosted": "由 --backend hosted 指定",
        "chosen with --backend local": "由 --backend local 指定",
        "the built-in tiny model runs locally": "内置的测试模型在本地运行",
        "the model is a local folder": "模型是本地文件夹",
        "no Hugging Face key (HF_API_KEY) is set": "没有设置 Hugging Face 密钥（HF_API_KEY）",
        "a GPU is available": "本机有 GPU",
        "a Hugging Face key is set and there is no GPU": "已设置 Hugging Face 密钥且本机没有 GPU",
    }
}

# A lead for errors whose details are English-only (hosted service texts, load failures).
ERROR_LEADS = {
    "zh-CN": {
        "HostedAuthError": "Hugging Face 拒绝了请求（密钥问题）",
        "ModelNotServedError": "Hugging Face 托管服务不提供该模型",
        "HostedTimeoutError": "Hugging Face 托管服务在限定时间内没有返回图片",
        "HostedResponseError": "Hugging Face 托管服务返回的不是图片",
        "HostedError": "Hugging Face 托管服务出错",
        "BackendUnavailableError": "模型没有加载成功",
        "ModelLoadError": "模型无法加载",
        "GenerationCancelled": "已停止",
        "SafetyCheckerFlagged": "图片被安全检查器拦截",
        "HuatuError": "出错了",
    }
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


def render_validation(error: ValidationError, language: str = DEFAULT_LANGUAGE) -> str:
    """The sentence for a :class:`~huatu.errors.ValidationError` in ``language``."""
    from huatu.errors import short_repr

    language = language if language in REASONS else DEFAULT_LANGUAGE
    name = FIELD_NAMES[language].get(error.field, "") if language != "en" else ""
    return VALIDATION_SENTENCE[language].format(
        field=error.field,
        name=f"（{name}）" if name else "",
        reason=REASONS[language][error.reason].format(**error.params),
        value=short_repr(error.value),
    )


def render_error(error: Exception, language: str = DEFAULT_LANGUAGE) -> str:
    """A huatu error as a sentence in ``language``.

    Validation errors are fully translated; other errors keep their (English) details behind
    a translated lead, e.g. ``"模型没有加载成功：The model … could not be downloaded …"``.
    """
    from huatu.errors import ValidationError

    if isinstance(error, ValidationError):
        return render_validation(error, language)
    key = getattr(error, "key", None)
    if key and key in CATALOG.get(language, {}):
        return CATALOG[language][key].format(**getattr(error, "params", {}))
    leads = ERROR_LEADS.get(language)
    if leads is None:
        return str(error)
    for cls in type(error).__mro__:
        if cls.__name__ in leads:
            return f"{leads[cls.__name__]}：{error}"
    return str(error)


def phrase(text: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A fixed English phrase from :data:`PHRASES` in ``language`` (unchanged if unknown)."""
    return PHRASES.get(language, {}).get(text, text)


def message(key: str, language: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """The catalog message ``key`` in ``language`` with ``params`` filled in."""
    return render(Notice(key, params), language)


def render(notice: Notice, language: str = DEFAULT_LANGUAGE) -> str:
    """Return ``notice`` as a sentence in ``language`` (``en`` or ``zh-CN``; default ``en``)."""
    language = language if language in CATALOG else DEFAULT_LANGUAGE
    params = dict(notice.params)
    if "field" in params:
        params["field"] = FIELD_NAMES[language].get(str(params["field"]), params["field"])
    if "script" in params:
        params["script"] = SCRIPT_NAMES[language].get(str(params["script"]), params["script"])
    return CATALOG[language][notice.key].format(**params)
