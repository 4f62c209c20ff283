"""The studio's interface labels (titles, tabs, buttons, field labels and hints).

Gradio translates these in the browser, following its language (:mod:`huatu.ui.i18n` builds
its ``gr.I18n`` from :data:`TEXTS`); sentences rendered in Python are in the other domains.
"""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "title": (
        "# 画图 huatu · text to image with Stable Diffusion",
        "# 画图 huatu · 基于 Stable Diffusion 的图像生成",
    ),
    "model_choice": (
        "Model",
        "模型",
    ),
    "model_choice_info": (
        (
            "Your models folder's checkpoints (family · size), or the hosted models Inference "
            "Providers serve (most liked first); ⬇ downloads a model (or type a Hub id); "
            "switching applies to every edge"
        ),
        (
            "模型文件夹中的模型（类型 · 大小），或推理服务商提供的托管模型（按点赞数排序）；"
            "⬇ 表示下载该模型（也可输入 Hub 模型 ID）；切换对所有接口生效"
        ),
    ),
    "lora_picker": ("LoRA", "LoRA 模型"),
    "vae_choice": ("VAE", "VAE 解码器"),
    "vae_automatic": ("Automatic (the model's own)", "自动（模型自带）"),
    "lora_picker_info": (
        "Adds <lora:name:1> to the prompt; change the weight there",
        "在提示词中加入 <lora:name:1>；可在提示词里修改权重",
    ),
    "mode": ("Mode", "模式"),
    "mode_txt2img": ("Text to image", "文生图"),
    "mode_img2img": ("Image to image", "图生图"),
    "mode_inpaint": ("Inpaint · outpaint", "局部重绘 · 扩图"),
    "mode_upscale": ("Upscale", "放大"),
    "source": (
        "Picture (paint the part to repaint with the brush)",
        "图片（用画笔涂出要重绘的部分）",
    ),
    "strength": ("Denoising strength", "重绘幅度"),
    "strength_info": (
        "0 keeps the picture, 1 ignores it; about strength × steps steps run",
        "0 保持原图，1 不参考原图；约运行 幅度 × 步数 步",
    ),
    "resize_mode": ("When the size differs", "尺寸不同时"),
    "resize_just_resize": ("Just resize", "直接缩放"),
    "resize_crop_and_resize": ("Crop and resize", "裁剪后缩放"),
    "resize_resize_and_fill": ("Resize and fill", "缩放后填充"),
    "mask_upload": ("Mask (optional: white repaints)", "蒙版（可选：白色部分重绘）"),
    "mask_blur": ("Mask blur (px)", "蒙版模糊（像素）"),
    "masked_content": ("Masked area starts from", "蒙版区域起始内容"),
    "masked_original": ("The picture", "原图"),
    "masked_latent_noise": ("Noise", "噪声"),
    "inpaint_area": ("Repaint at full size", "全分辨率重绘"),
    "area_whole": ("Whole picture", "整张图片"),
    "area_only_masked": ("Only the masked part", "仅蒙版区域"),
    "invert_mask": ("Repaint what is not painted", "重绘未涂抹的部分"),
    "outpaint_left": ("Extend left (px)", "向左扩展（像素）"),
    "outpaint_right": ("Extend right (px)", "向右扩展（像素）"),
    "outpaint_up": ("Extend up (px)", "向上扩展（像素）"),
    "outpaint_down": ("Extend down (px)", "向下扩展（像素）"),
    "hires": ("Hires fix", "高清修复"),
    "hires_scale": ("Upscale by", "放大倍数"),
    "hires_scale_info": (
        "1 is off; the result must stay within 1024 px",
        "1 为关闭；结果边长不能超过 1024 像素",
    ),
    "hires_steps": ("Hires steps (0: as many as steps)", "高清步数（0：与步数相同）"),
    "hires_strength": ("Hires denoising strength", "高清重绘幅度"),
    "hires_upscaler": ("Upscaler", "放大方式"),
    "upscale_scale": ("Upscale by", "放大倍数"),
    "upscaler": ("Upscaler", "放大方式"),
    "tab_settings": ("Settings", "设置"),
    "send_img2img": ("Send to image to image", "发送到图生图"),
    "send_inpaint": ("Send to inpaint", "发送到局部重绘"),
    "history_sources": ("Source and mask", "原图与蒙版"),
    "used_source": ("Source used (mask in red)", "使用的原图（红色为蒙版）"),
    "tab_generate": (
        "Generate",
        "生成",
    ),
    "tab_info": (
        "Image info",
        "图片信息",
    ),
    "tab_history": (
        "History",
        "历史记录",
    ),
    "prompt": (
        "Prompt",
        "你的提示",
    ),
    "prompt_placeholder": (
        "What should the picture show? e.g. a dog in a park",
        "想画什么？例如：a dog in a park（公园里的一只狗）",
    ),
    "generate": (
        "Generate",
        "生成",
    ),
    "stop": (
        "Stop",
        "停止",
    ),
    "translation": (
        "English prompt (translation, editable)",
        "英文提示（翻译结果，可修改）",
    ),
    "translation_info": (
        "The model reads English: this text is what it will draw.",
        "模型只读英文：它会按这段文字作画。",
    ),
    "translate": (
        "Translate",
        "翻译",
    ),
    "preset": (
        "Preset",
        "预设",
    ),
    "preset_quality": (
        "Quality",
        "高质量",
    ),
    "preset_balanced": (
        "Balanced",
        "均衡",
    ),
    "preset_fast": (
        "Fast",
        "快速",
    ),
    "aspect": (
        "Size",
        "尺寸",
    ),
    "num_images": (
        "Images",
        "图片数量",
    ),
    "advanced": (
        "Advanced options",
        "高级选项",
    ),
    "negative_prompt": (
        "Negative prompt",
        "负面提示",
    ),
    "negative_prompt_info": (
        "What to avoid in the picture",
        "不希望出现在图片中的内容",
    ),
    "steps": (
        "Inference steps",
        "推理步数（Inference Steps）",
    ),
    "steps_info": (
        "How many steps the denoiser takes",
        "去噪器将分几步对图像进行去噪？",
    ),
    "guidance": (
        "Guidance scale",
        "文字的引导程度",
    ),
    "guidance_info": (
        "How strongly the prompt steers the picture",
        "控制文字提示对结果的影响程度",
    ),
    "width": (
        "Width",
        "宽",
    ),
    "height": (
        "Height",
        "高",
    ),
    "seed": (
        "Seed",
        "种子",
    ),
    "seed_info": (
        "-1 picks a random seed",
        "-1 表示随机种子",
    ),
    "dice": (
        "Random seed",
        "随机种子",
    ),
    "recycle": (
        "Reuse last seed",
        "沿用上次的种子",
    ),
    "step_cache": ("Faster: step caching (DeepCache)", "更快：步间缓存（DeepCache）"),
    "step_cache_info": (
        "The deep layers run every third step only (and, on CPUs with bf16, similar tokens "
        "merge in the attention): faster, the picture slightly different",
        "UNet 深层每三步才完整计算一次（支持 bf16 的 CPU 上，注意力中相近的 token 还会合并）："
        "更快，画面会略有不同",
    ),
    "fast_decode": ("Fast decode (TAESD)", "快速解码（TAESD）"),
    "fast_decode_info": (
        "A tiny decoder: a fraction of the VAE's time, slightly softer detail",
        "小型解码器：耗时只有 VAE 的一小部分，细节略软",
    ),
    "scheduler": (
        "Sampler",
        "采样器",
    ),
    "glossary": (
        "Glossary (Chinese = English, one per line)",
        "术语表（中文 = English，每行一条）",
    ),
    "glossary_info": (
        "Applied before translation, e.g. 赛博朋克 = cyberpunk",
        "在翻译之前先替换，例如 赛博朋克 = cyberpunk",
    ),
    "save_glossary": (
        "Save glossary",
        "保存术语表",
    ),
    "preview": (
        "Preview",
        "预览",
    ),
    "gallery": (
        "Result",
        "结果",
    ),
    "info_upload": (
        "Drop a PNG here",
        "把 PNG 图片拖到这里",
    ),
    "info_parameters": (
        "Parameters",
        "生成参数",
    ),
    "send_to_generate": (
        "Send to Generate",
        "发送到生成页",
    ),
    "search": (
        "Search prompts",
        "搜索提示",
    ),
    "refresh": (
        "Refresh",
        "刷新",
    ),
    "history_gallery": (
        "Generations, newest first",
        "生成记录（最新的在前）",
    ),
    "history_details": (
        "Details",
        "详情",
    ),
    "restore": (
        "Restore settings",
        "恢复这些设置",
    ),
    "delete": (
        "Delete",
        "删除",
    ),
}
