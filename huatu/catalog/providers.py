"""Texts about Inference Providers: which one serves the model, and what a model family takes."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "hosted_provider_auto": (
        "via {provider} (the first provider serving it in your Hugging Face settings)",
        "经由 {provider}（你的 Hugging Face 设置中第一个提供它的服务商）",
    ),
    "hosted_provider_set": (
        "via {provider}",
        "经由 {provider}",
    ),
    "hosted_provider_unasked": (
        "via {provider} (the Hugging Face Hub could not be asked which providers serve it)",
        "经由 {provider}（无法向 Hugging Face Hub 查询哪些服务商提供它）",
    ),
    "hosted_model_unknown": (
        "The Hugging Face Hub has no model {model}{offer}",
        "Hugging Face Hub 上没有模型 {model}{offer}",
    ),
    "hosted_model_not_served": (
        "No Inference Provider serves {model} for text-to-image today{offer}",
        "目前没有任何推理服务商（Inference Provider）为文生图提供 {model}{offer}",
    ),
    "hosted_model_not_served_by": (
        (
            "The {provider} provider does not serve {model} for text-to-image (only {others} "
            "do: set HUATU_HOSTED_PROVIDER to one of them or to auto){offer}"
        ),
        (
            "服务商 {provider} 不为文生图提供 {model}（只有 {others} 提供：请把 "
            "HUATU_HOSTED_PROVIDER 设为其中之一或 auto）{offer}"
        ),
    ),
    "hosted_served_models": (
        (
            "; models served today, most liked first: {models} — choose one with `--model`, "
            "HUATU_HOSTED_MODEL or the studio's model choice."
        ),
        (
            "；目前有服务商提供的模型（按点赞数排序）：{models}——可用 `--model`、"
            "HUATU_HOSTED_MODEL 或工作室的模型选择换用。"
        ),
    ),
    "hosted_served_models_unknown": (
        ": choose another model with `--model` or HUATU_HOSTED_MODEL, or generate locally "
        "with `--backend local`.",
        "：请用 `--model` 或 HUATU_HOSTED_MODEL 选择其他模型，或用 `--backend local` 在本地生成。",
    ),
    "hosted_ignores_negative": (
        "{model} ({family}) takes no negative prompt: it was not sent.",
        "{model}（{family}）不接受反向提示词：没有发送它。",
    ),
    "hosted_ignores_guidance": (
        "{model} ({family}) ignores the guidance scale (CFG): it was not sent.",
        "{model}（{family}）忽略引导系数（CFG）：没有发送它。",
    ),
    "hosted_steps_capped": (
        "{model} ({family}) runs at most {most} steps: {most} were run instead of {asked}.",
        "{model}（{family}）最多运行 {most} 步：实际运行了 {most} 步，而不是 {asked} 步。",
    ),
}
