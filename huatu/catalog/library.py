"""Texts about people's own models: the models folder, model files, families."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "unknown_model": (
        "There is no {kind} called '{name}' in the models folders. Closest: {known}.",
        "模型文件夹中没有名为“{name}”的{kind}。最接近的：{known}。",
    ),
    "unknown_model_none": (
        "There is no {kind} called '{name}': the models folders hold none.",
        "没有名为“{name}”的{kind}：模型文件夹中一个也没有。",
    ),
    "kind_checkpoint": ("checkpoint", "模型"),
    "kind_lora": ("LoRA", "LoRA 模型"),
    "kind_vae": ("VAE", "VAE 解码器"),
    "kind_embedding": ("embedding", "嵌入（embedding）"),
    "reason_lora_unknown": (
        "names the LoRA '{name}', which is not in the models folders' Lora/ (closest: {known})",
        "引用了 LoRA“{name}”，但模型文件夹的 Lora/ 中没有它（最接近的：{known}）",
    ),
    "reason_extra_network_not_here": (
        "holds {tag}, but the loaded model's backend takes no LoRAs (they run on the local "
        "backend, from the models folders); remove the tag or switch to a local model",
        "包含 {tag}，但当前模型的后端不支持 LoRA（LoRA 只能在本地后端、从模型文件夹中使用）；"
        "请删除该标记或换用本地模型",
    ),
    "reason_lora_weight": (
        "must give a LoRA's weight as a number, e.g. <lora:name:0.8>",
        "LoRA 的权重必须是数字，例如 <lora:name:0.8>",
    ),
    "reason_lora_unfit": (
        "names the LoRA '{name}', which could not be applied to this model ({kind}): it may be "
        "made for another model family",
        "引用的 LoRA“{name}”无法用于当前模型（{kind}）：它可能是为其他模型系列训练的",
    ),
    "reason_embedding_unfit": (
        "uses the embedding '{name}', which could not be loaded for this model ({kind}): it may "
        "be made for another model family",
        "使用的嵌入“{name}”无法为当前模型加载（{kind}）：它可能是为其他模型系列训练的",
    ),
    "reason_side_for_family": (
        "makes the picture {size} pixels on that side, but the loaded model ({family}) takes "
        "at most {high}",
        "会使图片这一边达到 {size} 像素，但当前模型（{family}）最多支持 {high}",
    ),
    "reason_vae_unknown": (
        "names no VAE of the models folders' VAE/ (closest: {known}); 'Automatic' is the "
        "model's own",
        "不是模型文件夹 VAE/ 中的 VAE（最接近的：{known}）；'Automatic' 表示模型自带的 VAE",
    ),
    "reason_vae_not_here": (
        "cannot be set: the loaded model's backend decodes with its own VAE only",
        "无法设置：当前模型的后端只能使用自带的 VAE",
    ),
    "vae_unfit": (
        (
            "The VAE {name} could not be used with the loaded model ({kind}): it may be made "
            "for another model family or damaged. The VAE in use stays."
        ),
        (
            "VAE {name} 无法用于当前模型（{kind}）：它可能属于其他模型系列或已损坏。"
            "当前使用的 VAE 保持不变。"
        ),
    ),
    "restore_missing": (
        "This image was made with files that are not in your models folders: {files}.",
        "这张图片用到的以下文件不在你的模型文件夹中：{files}。",
    ),
    "switching_model": (
        "Loading {model} …",
        "正在加载 {model} …",
    ),
    "token_count": (
        "{count}/{limit}",
        "{count}/{limit} 词元",
    ),
    "token_count_chunks": (
        "{count}/{limit} · {chunks} chunks of 75 tokens",
        "{count}/{limit} 词元 · 共 {chunks} 段（每段 75）",
    ),
    "status_switching": (
        "Loading {model}; generations wait for it.",
        "正在加载 {model}，生成请求会等待它加载完成。",
    ),
    "status_downloading": (
        "⬇ {progress} Generating waits until it is downloaded and loaded.",
        "⬇ {progress} 下载并加载完成后才能生成。",
    ),
    "download_preparing": (
        "Preparing the download of {model} from the Hugging Face Hub …",
        "正在准备从 Hugging Face Hub 下载 {model} …",
    ),
    "download_progress": (
        "Downloading {model}: {done} of {total} ({percent}%) · {speed} · about {left} left.",
        "正在下载 {model}：{done} / {total}（{percent}%）· {speed} · 约剩 {left}。",
    ),
    "download_progress_no_speed": (
        "Downloading {model}: {done} of {total} ({percent}%).",
        "正在下载 {model}：{done} / {total}（{percent}%）。",
    ),
    "eta_minutes": (
        "{minutes} min",
        "{minutes} 分钟",
    ),
    "eta_seconds": (
        "{seconds} s",
        "{seconds} 秒",
    ),
    "model_file_unreadable": (
        ("{model} is not a readable .safetensors file ({kind}): it may be incomplete or damaged."),
        "{model} 不是可读取的 .safetensors 文件（{kind}）：文件可能不完整或已损坏。",
    ),
    "model_file_not_checkpoint": (
        (
            "{model} is not a Stable Diffusion checkpoint huatu can run (it may be a LoRA, a VAE, "
            "an SDXL refiner or another architecture; huatu runs SD 1.x, SD 2.x, SDXL and their "
            "few-step variants)."
        ),
        (
            "{model} 不是 huatu 能运行的 Stable Diffusion 模型（可能是 LoRA、VAE、SDXL "
            "refiner 或其他架构；huatu 支持 SD 1.x、SD 2.x、SDXL 及其少步数变体）。"
        ),
    ),
    "pull_not_diffusers": (
        (
            "{model} on the Hugging Face Hub is not a diffusers pipeline (it has no "
            "model_index.json); download a single .safetensors checkpoint into "
            "models/Stable-diffusion/ instead."
        ),
        (
            "Hugging Face Hub 上的 {model} 不是 diffusers 流水线（没有 model_index.json）；"
            "请改为把单个 .safetensors 模型下载到 models/Stable-diffusion/。"
        ),
    ),
    "model_folder_unknown": (
        (
            "{model} is a diffusers folder of a kind huatu does not run ({pipeline}); huatu runs "
            "SD 1.x, SD 2.x, SDXL, their few-step variants, Kolors, Hunyuan-DiT and Taiyi."
        ),
        (
            "{model} 是 huatu 不支持的 diffusers 模型（{pipeline}）；huatu 支持 SD 1.x、SD 2.x、"
            "SDXL 及其少步数变体、Kolors、混元 DiT 和太乙。"
        ),
    ),
}
