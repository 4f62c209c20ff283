"""Texts about saving: image files, their metadata, the history database, prompt files."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "storage_disk_full": (
        "the disk is full",
        "磁盘已满",
    ),
    "history_disk_full": (
        "Could not save the image to {folder}: the disk is full.",
        "无法把图片保存到 {folder}：磁盘已满。",
    ),
    "history_save_failed": (
        "Could not save the image to {folder}: {reason}.",
        "无法把图片保存到 {folder}：{reason}。",
    ),
    "image_no_free_name": (
        "Could not find a free file name for {name} in {folder}.",
        "在 {folder} 中找不到 {name} 可用的文件名。",
    ),
    "history_open_failed": (
        "The history database {path} cannot be opened: {reason}.",
        "无法打开历史数据库 {path}：{reason}。",
    ),
    "history_newer_schema": (
        (
            "The history database {path} was written by a newer huatu (schema {version}, this one "
            "knows up to {known}); update huatu or point HUATU_OUTPUTS at another folder."
        ),
        (
            "历史数据库 {path} 由更新版本的 huatu 写入（数据库版本 {version}，当前 huatu 最高支持 "
            "{known}）；请升级 huatu，或把 HUATU_OUTPUTS 指向另一个文件夹。"
        ),
    ),
    "history_foreign_tables": (
        "{path} holds tables huatu did not create; move it away.",
        "{path} 中有不是 huatu 创建的数据表；请把它移走。",
    ),
    "history_closed": (
        "The history {path} is closed.",
        "历史记录 {path} 已关闭。",
    ),
    "history_read_failed": (
        "The history database {path} cannot be read: {reason}.",
        "无法读取历史数据库 {path}：{reason}。",
    ),
    "history_record_failed": (
        "Could not record the image in the history {path}: {reason}; it was not kept.",
        "无法把图片记入历史记录 {path}：{reason}；这张图片没有保留。",
    ),
    "history_repair_failed": (
        "The history database {path} could not be repaired: {reason}.",
        "无法修复历史数据库 {path}：{reason}。",
    ),
    "history_delete_file_failed": (
        "Could not delete {path}: {reason}.",
        "无法删除 {path}：{reason}。",
    ),
    "history_delete_failed": (
        "Could not delete entry {id} from the history {path}: {reason}.",
        "无法从历史记录 {path} 中删除第 {id} 条：{reason}。",
    ),
    "metadata_key_unwritable": (
        (
            "Metadata key {name} cannot be written: use 2 or more letters, digits, '_', '-', '/' "
            "and inner spaces."
        ),
        "无法写入元数据键 {name}：请使用 2 个或更多字母、数字、'_'、'-'、'/'，空格只能在中间。",
    ),
    "metadata_key_reserved": (
        "Metadata key {name} is written by huatu itself; rename it.",
        "元数据键 {name} 由 huatu 自己写入；请换个名字。",
    ),
    "image_given_unreadable": (
        "The given image is not one huatu can read.",
        "huatu 无法读取给定的图片。",
    ),
    "image_data_unreadable": (
        "The given data is not a PNG/JPEG/WebP image huatu can read.",
        "给定的数据不是 huatu 能读取的 PNG/JPEG/WebP 图片。",
    ),
    "image_unreadable": (
        "{name} is not a PNG/JPEG/WebP image huatu can read.",
        "{name} 不是 huatu 能读取的 PNG/JPEG/WebP 图片。",
    ),
    "image_cannot_open": (
        "{name} cannot be opened: {reason}.",
        "无法打开 {name}：{reason}。",
    ),
    "batch_file": (
        "{name}: {problem}",
        "{name}：{problem}",
    ),
    "batch_line": (
        "{name} line {line}: {problem}",
        "{name} 第 {line} 行：{problem}",
    ),
    "batch_unreadable": (
        "cannot be read: {reason}.",
        "无法读取：{reason}。",
    ),
    "batch_not_utf8": (
        "is not UTF-8 text.",
        "不是 UTF-8 文本。",
    ),
    "batch_no_prompts": (
        "has no prompts (blank lines and # comments only).",
        "没有提示词（只有空行和 # 注释）。",
    ),
    "batch_bad_json": (
        "is not valid JSON ({reason}).",
        "不是有效的 JSON（{reason}）。",
    ),
    "batch_not_object": (
        'must be a JSON object such as {{"prompt": "…"}}.',
        '必须是 JSON 对象，例如 {{"prompt": "…"}}。',
    ),
    "batch_unknown_field": (
        "unknown field {given}; known: {known}.",
        "未知字段 {given}；可用的字段：{known}。",
    ),
    "batch_field_twice": (
        "gives `{name}` twice (as '{name}' and its short name).",
        "`{name}` 给了两次（用 '{name}' 和它的简称）。",
    ),
    "batch_no_prompt": (
        "has no `prompt`.",
        "缺少 `prompt`。",
    ),
}
