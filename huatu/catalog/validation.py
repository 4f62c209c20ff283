"""Texts of refused request fields: the sentence, each reason, each field's name."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "invalid_value": (
        "`{name}`{label} {reason}, but is {value}.",
        "`{name}`{label}{reason}，但现在是 {value}。",
    ),
    "invalid_value_label": (
        "",
        "（{label}）",
    ),
    "reason_required": (
        "is required",
        "是必填项",
    ),
    "reason_unknown_field": (
        "is not a request field",
        "不是请求中的字段",
    ),
    "reason_text": (
        "must be text",
        "必须是文本",
    ),
    "reason_empty": (
        "must not be empty",
        "不能为空",
    ),
    "reason_too_long": (
        "must be at most {limit:,} characters",
        "最多 {limit:,} 个字符",
    ),
    "reason_nul": (
        "must not contain NUL characters",
        "不能包含 NUL 字符",
    ),
    "reason_integer_range": (
        "must be an integer from {low} to {high}",
        "必须是 {low} 到 {high} 之间的整数",
    ),
    "reason_seed_range": (
        "must be -1 (random) or an integer from {low} to {high}",
        "必须是 -1（随机）或 {low} 到 {high} 之间的整数",
    ),
    "reason_seed_room": (
        "must be at most {high} for {count} images (image i uses seed + i)",
        "生成 {count} 张图片时不能大于 {high}（第 i 张使用 种子 + i）",
    ),
    "reason_number_range": (
        "must be a number from {low:g} to {high:g}",
        "必须是 {low:g} 到 {high:g} 之间的数",
    ),
    "reason_side": (
        "must be an integer from {low} to {high} and a multiple of {multiple}",
        "必须是 {low} 到 {high} 之间、{multiple} 的倍数的整数",
    ),
    "reason_choice": (
        "must be one of {choices}",
        "必须是以下之一：{choices}",
    ),
    "reason_local_only": (
        "runs only on the local backend (use --backend local or auto)",
        "只能在本地后端运行（请使用 --backend local 或 auto）",
    ),
    "reason_mode_unsupported": (
        "is not something the {backend} backend can do (it can: {modes})",
        "不是 {backend} 后端能做的（它能做：{modes}）",
    ),
    "reason_model_choice": (
        "must be one of {choices}, or a Hugging Face Hub id (owner/name)",
        "必须是以下之一：{choices}，或 Hugging Face Hub 上的模型 id（owner/name）",
    ),
    "field_prompt": (
        "prompt",
        "提示",
    ),
    "field_negative_prompt": (
        "negative prompt",
        "负面提示",
    ),
    "field_num_inference_steps": (
        "inference steps",
        "推理步数",
    ),
    "field_guidance_scale": (
        "guidance scale",
        "引导强度",
    ),
    "field_init_image": ("source picture", "原图"),
    "field_mask": ("mask", "蒙版"),
    "field_strength": ("denoising strength", "重绘幅度"),
    "field_mask_blur": ("mask blur", "蒙版模糊"),
    "field_outpaint": ("outpaint", "扩图"),
    "field_hires_scale": ("hires upscale", "高清放大倍数"),
    "field_hires_strength": ("hires denoising strength", "高清重绘幅度"),
    "field_hires_steps": ("hires steps", "高清步数"),
    "field_width": (
        "width",
        "宽",
    ),
    "field_height": (
        "height",
        "高",
    ),
    "field_seed": (
        "seed",
        "种子",
    ),
    "field_num_images": (
        "number of images",
        "图片数量",
    ),
    "field_scheduler": (
        "scheduler",
        "采样器",
    ),
    "field_model": (
        "model",
        "模型",
    ),
    "field_mode": (
        "mode",
        "模式",
    ),
    "script_cjk": (
        "Chinese/Japanese/Korean",
        "中日韩",
    ),
    "script_other": (
        "non-Latin",
        "非拉丁",
    ),
    "value_length": (
        " ({count} characters)",
        "（共 {count} 个字符）",
    ),
    "reason_required_for_mode": (
        "is required for {mode}",
        "在 {mode} 模式下是必填项",
    ),
    "reason_only_for_edits": (
        "is only for image to image and inpainting (leave it out for text to image)",
        "只用于图生图和局部重绘（文生图时请不要提供）",
    ),
    "reason_only_for_inpaint": (
        "is only for inpainting",
        "只用于局部重绘",
    ),
    "reason_only_for_txt2img": (
        "is only for text to image",
        "只用于文生图",
    ),
    "reason_outpaint": (
        "must be four whole numbers (left, right, up, down), each 0 or more and a multiple of "
        "{multiple}",
        "必须是四个整数（左、右、上、下），每个不小于 0 且是 {multiple} 的倍数",
    ),
    "reason_result_too_big": (
        "would make a {size} image, larger than {high} pixels on a side",
        "会得到 {size} 的图片，边长超过 {high} 像素",
    ),
    "reason_boolean": (
        "must be true or false",
        "必须是 true 或 false",
    ),
    "reason_image_bytes": (
        "must be an image of at most {limit} MB",
        "必须是不超过 {limit} MB 的图片",
    ),
    "reason_image_pixels": (
        "must be an image of at most {limit} pixels",
        "必须是不超过 {limit} 像素的图片",
    ),
    "reason_image_unreadable": (
        "must be a complete PNG, JPEG, WebP or other image file",
        "必须是完整的 PNG、JPEG、WebP 等图片文件",
    ),
    "reason_image_file": (
        "must be an image file that can be read",
        "必须是可以读取的图片文件",
    ),
    "image_first_frame": (
        "`{field}` is animated: its first frame was used.",
        "`{field}` 是动图：使用了它的第一帧。",
    ),
    "mask_resized": (
        "The mask ({mask}) was resized to the picture's size ({size}).",
        "蒙版（{mask}）已缩放到图片的尺寸（{size}）。",
    ),
    "value_huge_number": (
        "<a whole number of about {digits} digits>",
        "<约 {digits} 位的整数>",
    ),
}
