"""Texts about backends and models: which backend and why, loading, the Fast path."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "fast_unavailable": (
        (
            "The Fast preset needs the LCM-LoRA weights {weights}, which could not be loaded (not "
            "downloaded yet and no connection to the Hugging Face Hub, or not found); connect to "
            "the internet once so they download, or pick the Balanced preset."
        ),
        (
            "“快速”预设需要 LCM-LoRA 权重 {weights}，但无法加载（尚未下载且无法连接 Hugging Face "
            "Hub，或找不到文件）；请联网一次让它下载，或改选“均衡”预设。"
        ),
    ),
    "taesd_unavailable": (
        (
            "The fast decoder TAESD ({weights}) could not be loaded, so the image was decoded "
            "with the model's full VAE (slower)."
        ),
        "无法加载快速解码器 TAESD（{weights}），图片改用模型完整的 VAE 解码（较慢）。",
    ),
    "fast_preset_fallback": (
        (
            "The LCM-LoRA weights {weights} are not available (not downloaded yet and offline), "
            "so Fast uses DPM++ 2M Karras with 12 steps; connect to the internet once for the "
            "4-step LCM Fast preset."
        ),
        (
            "LCM-LoRA 权重 {weights} 不可用（尚未下载且处于离线状态），因此“快速”预设改用 DPM++ "
            "2M Karras 12 步；联网一次即可使用 4 步的 LCM 快速预设。"
        ),
    ),
    "fast_switch_one_step": (
        (
            "Fast on this model is 4 LCM steps, each a whole UNet call. For an image in seconds, "
            "switch to a one-step model on this machine in the model list: {models}."
        ),
        (
            "此模型的“快速”是 4 步 LCM，每步都要完整运行一次 UNet。想几秒出图，"
            "请在模型列表中换成本机已有的单步模型：{models}。"
        ),
    ),
    "fast_download_one_step": (
        (
            "Fast on this model is 4 LCM steps, each a whole UNet call. No one-step model is on "
            "this machine: choose “⬇ {model}” in the model list to download it (once, about "
            "2 GB) — one step and a tiny decoder, about 5 s per 512×512 image on two CPU cores."
        ),
        (
            "此模型的“快速”是 4 步 LCM，每步都要完整运行一次 UNet。本机还没有单步模型："
            "在模型列表中选择“⬇ {model}”即可下载（一次，约 2 GB）——单步加小型解码器，"
            "两核 CPU 上每张 512×512 约 5 秒。"
        ),
    ),
    "choice_flag": (
        "chosen with --backend {backend}",
        "由 --backend {backend} 指定",
    ),
    "choice_tiny": (
        "the built-in tiny model runs locally",
        "内置的测试模型在本地运行",
    ),
    "choice_folder": (
        "the model is a local folder",
        "模型是本地文件夹",
    ),
    "choice_no_key": (
        "no Hugging Face key (HF_API_KEY) is set",
        "没有设置 Hugging Face 密钥（HF_API_KEY）",
    ),
    "choice_gpu": (
        "a GPU is available",
        "本机有 GPU",
    ),
    "choice_key_no_gpu": (
        "a Hugging Face key is set and there is no GPU",
        "已设置 Hugging Face 密钥且本机没有 GPU",
    ),
    "model_remedy": (
        (
            "Set HF_API_KEY to generate through Hugging Face's hosted API, pass --model PATH to a "
            "downloaded model folder, or try --model tiny."
        ),
        (
            "可以设置 HF_API_KEY 通过 Hugging Face 托管接口生成，用 --model PATH 指定已下载的模型"
            "文件夹，或试试 --model tiny。"
        ),
    ),
    "model_gated": (
        "The model {model} is gated on the Hugging Face Hub and needs access. {remedy}",
        "模型 {model} 在 Hugging Face Hub 上需要申请访问权限。{remedy}",
    ),
    "model_not_on_hub": (
        "The model {model} does not exist on the Hugging Face Hub. {remedy}",
        "Hugging Face Hub 上没有模型 {model}。{remedy}",
    ),
    "model_not_downloaded": (
        (
            "The model {model} could not be downloaded (no connection to the Hugging Face Hub and "
            "no copy in the local cache). {remedy}"
        ),
        "无法下载模型 {model}（连不上 Hugging Face Hub，本地缓存中也没有）。{remedy}",
    ),
    "model_load_failed": (
        "The model {model} could not be loaded ({kind}). {remedy}",
        "模型 {model} 无法加载（{kind}）。{remedy}",
    ),
    "model_not_diffusers_folder": (
        (
            "{model} is not a diffusers model folder (it has no model_index.json). Pass --model "
            "with a folder saved by diffusers, a Hub id, or try --model tiny."
        ),
        (
            "{model} 不是 diffusers 模型文件夹（其中没有 model_index.json）。请用 --model 指定 "
            "diffusers 保存的文件夹或 Hub 上的模型 id，或试试 --model tiny。"
        ),
    ),
    "model_weights_damaged": (
        (
            "The model {model} could not be read: its file {file} is damaged or is not a "
            "weights file. Download or copy the model again."
        ),
        "无法读取模型 {model}：其中的文件 {file} 已损坏或不是权重文件。请重新下载或复制该模型。",
    ),
    "model_pickle_refused": (
        (
            "The model {model} has no .safetensors weights, only a pickle format "
            "(.bin/.ckpt/.pt), which can run code hidden in the file when loaded; huatu loads "
            ".safetensors only. Use a .safetensors copy, or start huatu with --allow-pickle "
            "(HUATU_ALLOW_PICKLE=1) if you trust where the file comes from."
        ),
        (
            "模型 {model} 没有 .safetensors 权重，只有 pickle 格式（.bin/.ckpt/.pt），加载时可能运"
            "行文件中隐藏的代码；huatu 只加载 .safetensors。请使用 .safetensors 版本；如果信任文件"
            "来源，也可以用 --allow-pickle（HUATU_ALLOW_PICKLE=1）启动 huatu。"
        ),
    ),
    "pickle_warning": (
        (
            "Loading pickle weights (.bin/.ckpt/.pt) is allowed: such a file can run any code "
            "when loaded. Only use models from sources you trust."
        ),
        (
            "已允许加载 pickle 权重（.bin/.ckpt/.pt）：这类文件加载时可以运行任意代码。只使用可信"
            "来源的模型。"
        ),
    ),
    "device_unavailable": (
        "{problem} Unset HUATU_DEVICE to choose automatically.",
        "{problem}取消设置 HUATU_DEVICE 即可自动选择。",
    ),
    "device_no_cuda": (
        "device 'cuda' was asked for, but torch sees no CUDA GPU.",
        "指定了设备 cuda，但 torch 找不到 CUDA GPU。",
    ),
    "device_no_mps": (
        "device 'mps' was asked for, but this machine has no Apple MPS.",
        "指定了设备 mps，但这台机器没有 Apple MPS。",
    ),
    "device_unknown": (
        "device must be cuda, mps or cpu, but is {device}.",
        "设备必须是 cuda、mps 或 cpu，但现在是 {device}。",
    ),
    "dtype_unknown": (
        "dtype must be one of {choices}, but is {dtype}.",
        "dtype 必须是以下之一：{choices}，但现在是 {dtype}。",
    ),
    "no_hosted_key": (
        (
            "No Hugging Face key is set for hosted inference: put HF_API_KEY in .env or the "
            "environment, pass --model PATH to a downloaded model folder, or try --model tiny."
        ),
        (
            "没有设置用于托管推理的 Hugging Face 密钥：请在 .env 或环境变量中设置 HF_API_KEY，用 -"
            "-model PATH 指定已下载的模型文件夹，或试试 --model tiny。"
        ),
    ),
    "unknown_name": (
        "Unknown {kind} '{name}'. Available: {known}.",
        "未知的{kind}“{name}”。可选：{known}。",
    ),
    "kind_backend": (
        "backend",
        "后端",
    ),
    "kind_scheduler": (
        "scheduler",
        "采样器",
    ),
    "kind_preset": (
        "preset",
        "预设",
    ),
    "kind_mode": (
        "mode",
        "模式",
    ),
    "device_reason_dtype_set": (
        "set by HUATU_DTYPE",
        "由 HUATU_DTYPE 指定",
    ),
    "device_reason_cuda": (
        "CUDA GPU {name}",
        "CUDA 显卡 {name}",
    ),
    "device_reason_mps": (
        "Apple GPU (MPS)",
        "Apple 显卡（MPS）",
    ),
    "device_reason_bf16": (
        "CPU with AVX512-BF16/AMX: bf16, about half the time of fp32 (make bench), decoders "
        "in channels_last",
        "支持 AVX512-BF16/AMX 的 CPU：bf16，用时约为 fp32 的一半（make bench 实测），解码器用 "
        "channels_last",
    ),
    "device_reason_fp32": (
        "CPU without bf16 (AVX2): fp32, decoders in channels_last (1.13×); torch.compile and "
        "OpenVINO gain under 1.15× here for minutes of set-up, so they are off — “Faster” "
        "(step caching) and fast decode do less work instead",
        "CPU 不支持 bf16（AVX2）：fp32，解码器用 channels_last（1.13×）；torch.compile 与 "
        "OpenVINO 在此提速不到 1.15× 却要几分钟准备，故不用——"
        "改用“更快”（步间缓存）和快速解码来少算",
    ),
    "local_detail": (
        "{plan}{options} ({reason})",
        "{plan}{options}（{reason}）",
    ),
    "local_option_low_memory": (
        ", low memory",
        "，省内存",
    ),
    "local_option_low_memory_cuda": (
        ", low memory (CPU offload, VAE tiling)",
        "，省内存（CPU 卸载、VAE 分块）",
    ),
    "local_option_batching": (
        ", compatible queued requests in batches of up to {images} images",
        "，排队中可合并的请求合批生成（每批最多 {images} 张）",
    ),
    "local_option_compiled": (
        ", compiled in {seconds} s",
        "，已编译（用时 {seconds} 秒）",
    ),
}
