"""Texts only the studio says from Python: its translation step, image info and history on the
page, and the results of its MCP tool (the page's labels are in :mod:`huatu.catalog.ui`)."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "session_queue_full": (
        "You already have {limit} generations queued or running; wait for one to finish.",
        "你已有 {limit} 个生成任务在排队或运行；请等其中一个完成后再提交。",
    ),
    "translation_ready": (
        "Check the English translation (you can edit it), then press Generate again.",
        "请检查下面的英文翻译（可以修改），然后再次点击“生成”。",
    ),
    "no_parameters": (
        "This image carries no generation parameters.",
        "这张图片没有携带生成参数。",
    ),
    "history_deleted": (
        "Deleted.",
        "已删除。",
    ),
    "history_nothing_selected": (
        "Select an image in the history first.",
        "请先在历史记录中选择一张图片。",
    ),
    "info_nothing": (
        "Drop a PNG made by huatu, AUTOMATIC1111 or Fooocus first.",
        "请先拖入一张由 huatu、AUTOMATIC1111 或 Fooocus 生成的 PNG 图片。",
    ),
    "info_fields_skipped": (
        "Left out values huatu cannot use here: {fields}.",
        "以下数值在这里无法使用，已略过：{fields}。",
    ),
    "glossary_saved": (
        "Glossary saved ({count} terms).",
        "术语表已保存（{count} 条）。",
    ),
    "translated_with": (
        "Translated with {translator}.",
        "翻译来自 {translator}。",
    ),
    "translation_unavailable": (
        (
            "Translation is not available ({reason}). You can type the English prompt yourself in "
            "the box below the prompt."
        ),
        "无法翻译（{reason}）。你也可以在提示下方的输入框里自己填写英文提示。",
    ),
    "tool_generated": (
        "Generated {count} image(s); seed(s): {seeds}.",
        "已生成 {count} 张图片；种子：{seeds}。",
    ),
    "tool_image_parameters": (
        "Image {index} (seed {seed}) parameters:",
        "第 {index} 张图片（种子 {seed}）的参数：",
    ),
    "tool_note": (
        "Note: {notice}",
        "注意：{notice}",
    ),
    "upscaled_to": (
        "Upscaled to {size}.",
        "已放大到 {size}。",
    ),
}
