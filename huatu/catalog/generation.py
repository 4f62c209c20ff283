"""Texts about a run: progress, notices, results, and generation failures."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "non_english_prompt": (
        (
            "The {field} contains {script} text, but the model only understands English; write "
            "the prompt in English for a usable image."
        ),
        "{field}中含有{script}文字，但模型只懂英文；请用英文书写提示，才能得到可用的图片。",
    ),
    "prompt_truncated": (
        (
            "The {field} is {tokens} tokens long; the text encoder reads only the first {limit}, "
            "so the rest is ignored."
        ),
        "{field}共 {tokens} 个词元，文本编码器只读取前 {limit} 个，其余部分将被忽略。",
    ),
    "safety_flagged": (
        "{count} of {total} images were flagged by the model's safety checker and withheld.",
        "{total} 张图片中有 {count} 张被模型的安全检查器标记，已不予显示。",
    ),
    "test_model": (
        "This is the built-in test model: it draws noise, not pictures.",
        "这是内置的测试模型：它只会画出噪点，不会画出真正的图片。",
    ),
    "vae_fp32_retry": (
        (
            "The image came out black (the VAE overflowed in {dtype}); it was decoded again in "
            "float32."
        ),
        "图片变成了黑色（VAE 在 {dtype} 下数值溢出），已改用 float32 重新解码。",
    ),
    "seed_used": (
        "Seed: {seeds}",
        "种子：{seeds}",
    ),
    "stopped": (
        "Stopped.",
        "已停止。",
    ),
    "out_of_memory": (
        (
            "The model ran out of memory making this image; try a smaller size or fewer images "
            "(or start huatu with --low-memory)."
        ),
        "生成这张图片时内存不足；请减小尺寸或图片数量（或用 --low-memory 启动 huatu）。",
    ),
    "queue_full": (
        "The server is busy: {waiting} requests are already waiting. Try again in a minute.",
        "服务器正忙：已有 {waiting} 个请求在等待。请稍后再试。",
    ),
    "stopped_run": (
        "⏹ Stopped at step {step} of {total}; nothing was saved.",
        "⏹ 已在第 {step}/{total} 步停止；没有保存任何图片。",
    ),
    "step_progress": (
        "Step {step}/{total} · about {eta} s left",
        "第 {step}/{total} 步 · 预计还需 {eta} 秒",
    ),
    "step_progress_no_eta": (
        "Step {step}/{total}",
        "第 {step}/{total} 步",
    ),
    "waiting": (
        "Waiting for the hosted service… next try in {seconds} s",
        "正在等待托管服务…… {seconds} 秒后重试",
    ),
    "waiting_no_time": (
        "Waiting for the hosted service…",
        "正在等待托管服务……",
    ),
    "waiting_turn": (
        "Waiting for a free place · {ahead} ahead of you",
        "正在排队等待空位 · 前面还有 {ahead} 个",
    ),
    "queued_or_starting": (
        "Starting…",
        "正在开始……",
    ),
    "done": (
        "Done: {count} image(s) in {seconds} s.",
        "完成：{count} 张图片，用时 {seconds} 秒。",
    ),
    "status": (
        "Backend {backend} · model {model} · {detail} — {reason}",
        "后端 {backend} · 模型 {model} · {detail} — {reason}",
    ),
    "status_not_loaded": (
        "⚠️ The model {model} is not loaded: {error}",
        "⚠️ 模型 {model} 没有加载成功：{error}",
    ),
    "internal_error": (
        "Generation failed because of an internal error; the server log has the details.",
        "由于内部错误，生成失败；详情见服务器日志。",
    ),
    "lcm_guidance": (
        (
            "LCM works with a guidance scale of {limit} or less (1 turns guidance off); "
            "{guidance} may give over-saturated, burnt images."
        ),
        "LCM 适合不超过 {limit} 的引导强度（1 即关闭引导）；{guidance} 可能让图片过曝。",
    ),
    "step_cache_unavailable": (
        "Step caching runs only on a local SD or SDXL UNet; {backend} ran this without it.",
        "步间缓存只能用于本地的 SD 或 SDXL UNet；{backend} 本次未使用缓存。",
    ),
    "fast_decode_unavailable": (
        "The fast decoder TAESD runs only on the local backend; {backend} decoded this as usual.",
        "快速解码器 TAESD 只能用于本地后端；{backend} 本次按常规方式解码。",
    ),
    "lcm_not_hosted": (
        (
            "The LCM sampler (Fast preset) runs only on the local backend; the hosted service "
            "used its own sampler."
        ),
        "LCM 采样器（“快速”预设）只能在本地后端运行；托管服务使用了它自己的采样器。",
    ),
    "error": (
        "Something went wrong: {detail}",
        "出错了：{detail}",
    ),
    "model_not_loaded": (
        "{error}",
        "{error}",
    ),
    "no_model_loaded": (
        "No model is loaded.",
        "没有加载任何模型。",
    ),
}
