"""Texts about saving: image files, the history database, prompt files."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "history_disk_full": (
        "Could not save the image to {folder}: the disk is full.",
        "无法把图片保存到 {folder}：磁盘已满。",
    ),
    "history_save_failed": (
        "Could not save the image to {folder}: {reason}.",
        "无法把图片保存到 {folder}：{reason}。",
    ),
}
