"""Texts of the ``huatu`` command: what it says while it works, and its refusals."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "cli_port_busy": (
        (
            "Cannot listen on {host}:{port} ({why}): another program (maybe another huatu) uses "
            "it. Stop it or pass --port with a free port."
        ),
        (
            "无法在 {host}:{port} 上监听（{why}）：另一个程序（也许是另一个 huatu）正在使用它。请"
            "关掉它，或用 --port 指定一个空闲端口。"
        ),
    ),
    "cli_exposure_listen": (
        "listen on {host}",
        "在 {host} 上监听",
    ),
    "cli_exposure_share": (
        "open a share link",
        "开启公开分享链接",
    ),
    "cli_exposure_both": (
        "{first} and {second}",
        "{first}并{second}",
    ),
    "cli_exposure_refused": (
        (
            "Refusing to {what} without credentials: anyone who can reach it could use this "
            "machine. Set HUATU_API_KEY or pass --auth user:password (or --insecure-no-auth if "
            "you really mean it)."
        ),
        (
            "拒绝在没有凭据的情况下{what}：任何能访问到它的人都能使用这台机器。请设置 HUATU_API_"
            "KEY 或传入 --auth user:password（如果确实要这样做，用 --insecure-no-auth）。"
        ),
    ),
    "cli_exposure_warning": (
        (
            "WARNING: going to {what} without credentials; anyone who can reach it can generate "
            "images and read them."
        ),
        "警告：将在没有凭据的情况下{what}；任何能访问到它的人都能生成并查看图片。",
    ),
    "cli_serving": (
        "serving on {url}",
        "服务地址：{url}",
    ),
    "cli_mcp_serving": (
        "MCP server at {url}",
        "MCP 服务器地址：{url}",
    ),
    "cli_public_link": (
        "public link {url}",
        "公开链接：{url}",
    ),
    "cli_no_share_link": (
        "could not open a share link ({why}); serving locally only",
        "无法开启分享链接（{why}）；只在本机提供服务",
    ),
    "cli_server_not_started": (
        "The server did not start on {url}.",
        "服务器没能在 {url} 上启动。",
    ),
    "cli_upscaled": (
        "upscaled to {size}",
        "已放大到 {size}",
    ),
    "cli_loading": (
        "loading {model} …",
        "正在加载 {model} ……",
    ),
    "cli_warning": (
        "WARNING: {text}",
        "警告：{text}",
    ),
    "cli_compiling": (
        (
            "compiling the UNet for this machine — a minute or more the first time, seconds once "
            "cached in {folder} …"
        ),
        "正在为这台机器编译 UNet——第一次需要一分钟或更久，缓存到 {folder} 后只需几秒……",
    ),
    "cli_prompt_or_file": (
        "Give either a PROMPT or --from-file FILE (not both).",
        "请给出 PROMPT 或 --from-file FILE 之一（不能同时给出）。",
    ),
    "cli_seeds": (
        "seed: {seeds}",
        "种子：{seeds}",
    ),
    "cli_notice": (
        "notice: {text}",
        "提示：{text}",
    ),
    "cli_prompts_in_file": (
        "{count} prompt(s) in {path}",
        "{path} 中有 {count} 个提示",
    ),
    "cli_skipping_done": (
        "skipping {count} already done (their images are in {folder})",
        "跳过已完成的 {count} 个（图片在 {folder} 中）",
    ),
    "cli_batch_line": (
        "[{position}/{count}] line {line}: {prompt}",
        "[{position}/{count}] 第 {line} 行：{prompt}",
    ),
    "cli_line_failed": (
        "line {line} failed: {why}",
        "第 {line} 行失败：{why}",
    ),
    "cli_batch_failed": (
        "{failed} of {count} prompt(s) failed (line {lines}).",
        "{count} 个提示中有 {failed} 个失败（第 {lines} 行）。",
    ),
    "cli_pulled": (
        "{model} is in {folder}; start with it: huatu serve --model {name}",
        "{model} 已下载到 {folder}；用它启动：huatu serve --model {name}",
    ),
    "cli_licence": (
        "licence: {licence}",
        "许可证：{licence}",
    ),
    "cli_models_no_folder": (
        "no folder yet",
        "尚无文件夹",
    ),
    "cli_models_empty": (
        (
            "No models found. Put .safetensors checkpoints in {folder}/Stable-diffusion (LoRAs "
            "in Lora/, VAEs in VAE/, embeddings in embeddings/), or point --extra-model-dir at "
            "an AUTOMATIC1111, Forge or ComfyUI install."
        ),
        (
            "没有找到模型。请把 .safetensors 模型放进 {folder}/Stable-diffusion（LoRA 放 Lora/，"
            "VAE 放 VAE/，嵌入放 embeddings/），或用 --extra-model-dir 指向 AUTOMATIC1111、Forge "
            "或 ComfyUI 的安装目录。"
        ),
    ),
    "cli_no_parameters": (
        "{file} carries no generation parameters.",
        "{file} 没有携带生成参数。",
    ),
    "cli_step": (
        "step {step}/{total}",
        "第 {step}/{total} 步",
    ),
}
