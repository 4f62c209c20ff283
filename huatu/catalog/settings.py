"""Texts about settings: environment variables, .env and command-line values that cannot be used."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "setting_seconds": (
        "{name} must be a number of seconds, but is {value}.",
        "{name} 必须是秒数，但现在是 {value}。",
    ),
    "setting_positive": (
        "{name} must be more than 0 seconds, but is {value}.",
        "{name} 必须大于 0 秒，但现在是 {value}。",
    ),
    "setting_replicas": (
        "{name} must be a number of replicas (N) or a range (A-B, 1 ≤ A ≤ B), but is {value}.",
        "{name} 必须是副本数（N）或范围（A-B，1 ≤ A ≤ B），但现在是 {value}。",
    ),
    "setting_count": (
        "{name} must be a whole number of at least 1, but is {value}.",
        "{name} 必须是不小于 1 的整数，但现在是 {value}。",
    ),
    "setting_flag": (
        "{name} must be 1 or 0 (true/false), but is {value}.",
        "{name} 必须是 1 或 0（true/false），但现在是 {value}。",
    ),
    "setting_choice": (
        "{name} must be one of {choices}, but is {value}.",
        "{name} 必须是以下之一：{choices}，但现在是 {value}。",
    ),
    "setting_port": (
        "{name} must be a port number 1-65535, but is {value}.",
        "{name} 必须是 1-65535 之间的端口号，但现在是 {value}。",
    ),
    "setting_auth_pair": (
        "--auth/HUATU_AUTH entry {index} must look like user:password (got {user} {password}).",
        "--auth/HUATU_AUTH 的第 {index} 项必须形如 user:password（现在是{user}{password}）。",
    ),
    "auth_user_named": (
        "user {user}",
        "用户 {user}",
    ),
    "auth_no_user": (
        "no user name",
        "没有用户名",
    ),
    "auth_password": (
        "and a password",
        "，有密码",
    ),
    "auth_no_password": (
        "and no password",
        "，没有密码",
    ),
}
