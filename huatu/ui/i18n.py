"""The studio's interface text in English and Simplified Chinese, for ``gr.I18n``.

Gradio translates these in the browser, following its language. Text rendered in Python
(notices, errors, progress lines) comes from :mod:`huatu.messages` in the request's language.
"""

from __future__ import annotations

import gradio as gr

UI_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "# 画图 huatu · text to image with Stable Diffusion",
        "tab_generate": "Generate",
        "tab_info": "Image info",
        "tab_history": "History",
        "prompt": "Prompt",
        "prompt_placeholder": "What should the picture show? e.g. a dog in a park",
        "generate": "Generate",
        "stop": "Stop",
        "translation": "English prompt (translation, editable)",
        "translation_info": "The model reads English: this text is what it will draw.",
        "translate": "Translate",
        "preset": "Preset",
        "preset_quality": "Quality",
        "preset_balanced": "Balanced",
        "preset_fast": "Fast",
        "aspect": "Size",
        "num_images": "Images",
        "advanced": "Advanced options",
        "negative_prompt": "Negative prompt",
        "negative_prompt_info": "What to avoid in the picture",
        "steps": "Inference steps",
        "steps_info": "How many steps the denoiser takes",
        "guidance": "Guidance scale",
        "guidance_info": "How strongly the prompt steers the picture",
        "width": "Width",
        "height": "Height",
        "seed": "Seed",
        "seed_info": "-1 picks a random seed",
        "dice": "Random seed",
        "recycle": "Reuse last seed",
        "scheduler": "Sampler",
        "glossary": "Glossary (Chinese = English, one per line)",
        "glossary_info": "Applied before translation, e.g. 赛博朋克 = cyberpunk",
        "save_glossary": "Save glossary",
        "preview": "Preview",
        "gallery": "Result",
        "info_upload": "Drop a PNG here",
        "info_parameters": "Parameters",
        "send_to_generate": "Send to Generate",
        "search": "Search prompts",
        "refresh": "Refresh",
        "history_gallery": "Generations, newest first",
        "history_details": "Details",
        "restore": "Restore settings",
        "delete": "Delete",
    },
    "zh-CN": {
        "title": "# 画图 huatu · 基于 Stable Diffusion 的图像生成",
        "tab_generate": "生成",
        "tab_info": "图片信息",
        "tab_history": "历史记录",
        "prompt": "你的提示",
        "prompt_placeholder": "想画什么？例如：a dog in a park（公园里的一只狗）",
        "generate": "生成",
        "stop": "停止",
        "translation": "英文提示（翻译结果，可修改）",
        "translation_info": "模型只读英文：它会按这段文字作画。",
        "translate": "翻译",
        "preset": "预设",
        "preset_quality": "高质量",
        "preset_balanced": "均衡",
        "preset_fast": "快速",
        "aspect": "尺寸",
        "num_images": "图片数量",
        "advanced": "高级选项",
        "negative_prompt": "负面提示",
        "negative_prompt_info": "不希望出现在图片中的内容",
        "steps": "推理步数（Inference Steps）",
        "steps_info": "去噪器将分几步对图像进行去噪？",
        "guidance": "文字的引导程度",
        "guidance_info": "控制文字提示对结果的影响程度",
        "width": "宽",
        "height": "高",
        "seed": "种子",
        "seed_info": "-1 表示随机种子",
        "dice": "随机种子",
        "recycle": "沿用上次的种子",
        "scheduler": "采样器",
        "glossary": "术语表（中文 = English，每行一条）",
        "glossary_info": "在翻译之前先替换，例如 赛博朋克 = cyberpunk",
        "save_glossary": "保存术语表",
        "preview": "预览",
        "gallery": "结果",
        "info_upload": "把 PNG 图片拖到这里",
        "info_parameters": "生成参数",
        "send_to_generate": "发送到生成页",
        "search": "搜索提示",
        "refresh": "刷新",
        "history_gallery": "生成记录（最新的在前）",
        "history_details": "详情",
        "restore": "恢复这些设置",
        "delete": "删除",
    },
}

# Any Chinese browser locale gets the Simplified Chinese text (as huatu.messages does).
I18N = gr.I18n(**UI_TEXT, **{tag: UI_TEXT["zh-CN"] for tag in ("zh", "zh-TW", "zh-HK")})


def t(key: str) -> gr.i18n.I18nData:
    """The translatable text ``key`` (raises ``KeyError`` for a key missing in English)."""
    UI_TEXT["en"][key]  # fail at build time, not in the browser
    return I18N(key)
