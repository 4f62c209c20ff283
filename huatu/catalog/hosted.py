"""Texts about Hugging Face hosted inference: waiting, retrying and its failures."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "hosted_where_endpoint": (
        "the endpoint at {host}",
        "位于 {host} 的端点",
    ),
    "hosted_where_endpoint_lead": (
        "The endpoint at {host}",
        "位于 {host} 的端点",
    ),
    "hosted_where_provider": (
        "Hugging Face ({provider})",
        "Hugging Face（{provider}）",
    ),
    "hosted_address_provider": (
        "provider {provider}",
        "服务商 {provider}",
    ),
    "hosted_waiting": (
        "Waiting for {where}…",
        "正在等待{where}……",
    ),
    "hosted_waiting_image": (
        "Waiting for {where} (image {index} of {count})…",
        "正在等待{where}（第 {index}/{count} 张图片）……",
    ),
    "hosted_retry_loading": (
        "The model is loading on the hosted service, retrying in {seconds} s…",
        "托管服务正在加载模型，{seconds} 秒后重试……",
    ),
    "hosted_retry_rate_limited": (
        "The hosted service is rate-limiting requests (429), retrying in {seconds} s…",
        "托管服务正在限制请求频率（429），{seconds} 秒后重试……",
    ),
    "hosted_no_key": (
        (
            "No Hugging Face key is configured: set HF_API_KEY in .env or the environment, or "
            "generate locally with `--backend local` (or `--model tiny`)."
        ),
        (
            "没有配置 Hugging Face 密钥：请在 .env 或环境变量中设置 HF_API_KEY，或用 `--backend "
            "local`（或 `--model tiny`）在本地生成。"
        ),
    ),
    "hosted_timeout": (
        (
            "{where} sent no image within {limit} s (HUATU_HOSTED_TIMEOUT). Try again, raise "
            "HUATU_HOSTED_TIMEOUT, or generate locally with `--backend local`."
        ),
        (
            "{where}在 {limit} 秒内没有返回图片（HUATU_HOSTED_TIMEOUT）。请重试、调高 HUATU_"
            "HOSTED_TIMEOUT，或用 `--backend local` 在本地生成。"
        ),
    ),
    "hosted_still_loading": (
        "was still loading the model",
        "仍在加载模型",
    ),
    "hosted_still_rate_limited": (
        "was still rate-limiting requests (429)",
        "仍在限制请求频率（429）",
    ),
    "hosted_now_loading": (
        "is loading the model",
        "正在加载模型",
    ),
    "hosted_now_rate_limited": (
        "is rate-limiting requests (429)",
        "正在限制请求频率（429）",
    ),
    "hosted_gave_up": (
        (
            "{where} {why} after {attempts} tries over {waited} s, so huatu gave up. Try again in "
            "a minute, raise HUATU_HOSTED_TIMEOUT, or generate locally with `--backend local`."
        ),
        (
            "{where}在 {waited} 秒内尝试 {attempts} 次后{why}，huatu 已放弃。请过一分钟再试、调高 "
            "HUATU_HOSTED_TIMEOUT，或用 `--backend local` 在本地生成。"
        ),
    ),
    "hosted_wait_past_limit_first": (
        (
            "{where} {why}; waiting {wait} s would pass the {limit} s limit "
            "(HUATU_HOSTED_TIMEOUT). Try again in a minute, raise HUATU_HOSTED_TIMEOUT, or "
            "generate locally with `--backend local`."
        ),
        (
            "{where}{why}；再等 {wait} 秒就会超过 {limit} 秒的时限（HUATU_HOSTED_TIMEOUT）。请过一"
            "分钟再试、调高 HUATU_HOSTED_TIMEOUT，或用 `--backend local` 在本地生成。"
        ),
    ),
    "hosted_wait_past_limit": (
        (
            "{where} {why} after {attempts} tries over {waited} s; waiting {wait} s more would "
            "pass the {limit} s limit (HUATU_HOSTED_TIMEOUT). Try again in a minute, raise "
            "HUATU_HOSTED_TIMEOUT, or generate locally with `--backend local`."
        ),
        (
            "{where}在 {waited} 秒内尝试 {attempts} 次后{why}；再等 {wait} 秒就会超过 {limit} 秒的"
            "时限（HUATU_HOSTED_TIMEOUT）。请过一分钟再试、调高 HUATU_HOSTED_TIMEOUT，或用 `--"
            "backend local` 在本地生成。"
        ),
    ),
    "hosted_unreachable": (
        (
            "Could not reach the hosted service at {address}: the connection failed. Check your "
            "network (and HF_API_TTI_BASE / HUATU_HF_ROUTER), or generate locally with `--backend "
            "local`."
        ),
        (
            "无法连接位于 {address} 的托管服务：连接失败。请检查网络（以及 HF_API_TTI_BASE / "
            "HUATU_HF_ROUTER），或用 `--backend local` 在本地生成。"
        ),
    ),
    "hosted_cut": (
        (
            "The connection to the hosted service at {address} was cut before the image arrived. "
            "Try again, or generate locally with `--backend local`."
        ),
        (
            "与位于 {address} 的托管服务的连接在图片送达前中断了。请重试，或用 `--backend local` "
            "在本地生成。"
        ),
    ),
    "hosted_bad_url": (
        (
            "The hosted service's address is not a valid http(s) URL; check HF_API_TTI_BASE / "
            "HUATU_HF_ROUTER / HUATU_HOSTED_MODEL."
        ),
        (
            "托管服务的地址不是有效的 http(s) 网址；请检查 HF_API_TTI_BASE / HUATU_HF_ROUTER / "
            "HUATU_HOSTED_MODEL。"
        ),
    ),
    "hosted_offline": (
        (
            "Hosted generation is off because HF_HUB_OFFLINE is set; unset it, or generate "
            "locally with `--backend local`."
        ),
        (
            "由于设置了 HF_HUB_OFFLINE，托管生成已关闭；请取消该设置，或用 `--backend local` 在本"
            "地生成。"
        ),
    ),
    "hosted_unreachable_other": (
        (
            "Could not talk to the hosted service at {address}. Try again, or generate locally "
            "with `--backend local`."
        ),
        "无法与位于 {address} 的托管服务通信。请重试，或用 `--backend local` 在本地生成。",
    ),
    "hosted_key_rejected": (
        (
            "Hugging Face rejected the API key ({status}). Check HF_API_KEY in .env or the "
            "environment (a token allowed to call Inference Providers), or generate locally with "
            "`--backend local`."
        ),
        (
            "Hugging Face 拒绝了 API 密钥（{status}）。请检查 .env 或环境变量中的 HF_API_KEY（需要"
            "有权调用 Inference Providers 的令牌），或用 `--backend local` 在本地生成。"
        ),
    ),
    "hosted_address_gone": (
        ", that address is gone",
        "，该地址已不存在",
    ),
    "hosted_not_served_endpoint": (
        (
            "The model is not served by the endpoint at {host} ({status}{gone}). Stable Diffusion "
            "1.5 may no longer be served by any provider: choose another model with `--model` or "
            "HUATU_HOSTED_MODEL, or generate locally with `--backend local`."
        ),
        (
            "位于 {host} 的端点不提供这个模型（{status}{gone}）。可能已没有任何服务商提供 Stable "
            "Diffusion 1.5：请用 `--model` 或 HUATU_HOSTED_MODEL 选择其他模型，或用 `--backend "
            "local` 在本地生成。"
        ),
    ),
    "hosted_not_served_provider": (
        (
            "The model {model} is not served by the {provider} provider ({status}{gone}): choose "
            "a model a provider serves with `--model` or HUATU_HOSTED_MODEL, or generate locally "
            "with `--backend local`."
        ),
        (
            "服务商 {provider} 不提供模型 {model}（{status}{gone}）：请用 `--model` 或 "
            "HUATU_HOSTED_MODEL 选择有服务商提供的模型，或用 `--backend local` 在本地生成。"
        ),
    ),
    "hosted_http_error": (
        "{where} answered HTTP {status}.",
        "{where}返回了 HTTP {status}。",
    ),
    "hosted_http_error_detail": (
        "{where} answered HTTP {status}: {detail}",
        "{where}返回了 HTTP {status}：{detail}",
    ),
    "hosted_client_refused": (
        "InferenceClient refused the request: {detail}",
        "InferenceClient 拒绝了这个请求：{detail}",
    ),
    "hosted_unreadable_image": (
        "The hosted service sent data that is not a readable image.",
        "托管服务发来的数据不是可读取的图片。",
    ),
    "hosted_empty_body": (
        "The hosted service answered with an empty body instead of an image.",
        "托管服务返回了空内容，而不是图片。",
    ),
    "hosted_web_page": (
        (
            "The hosted service answered with a web page instead of an image; check "
            "HF_API_TTI_BASE or HUATU_HF_ROUTER."
        ),
        "托管服务返回了一个网页，而不是图片；请检查 HF_API_TTI_BASE 或 HUATU_HF_ROUTER。",
    ),
    "hosted_no_content_type": (
        "no content type",
        "没有内容类型",
    ),
    "hosted_not_image": (
        "The hosted service answered with something that is not an image ({kind}).",
        "托管服务返回的内容不是图片（{kind}）。",
    ),
    "hosted_bad_json": (
        "The hosted service said it sent JSON, but the body is not valid JSON.",
        "托管服务声称返回的是 JSON，但内容不是有效的 JSON。",
    ),
    "hosted_json_no_image": (
        "The hosted service answered with JSON that holds no image.",
        "托管服务返回的 JSON 中没有图片。",
    ),
    "hosted_json_no_image_detail": (
        "The hosted service answered with JSON that holds no image: {detail}.",
        "托管服务返回的 JSON 中没有图片：{detail}。",
    ),
    "hosted_empty_image": (
        "The hosted service sent an empty image.",
        "托管服务发来了一张空图片。",
    ),
    "hosted_not_base64": (
        "The hosted service sent text that is not a base64 image.",
        "托管服务发来的文本不是 base64 编码的图片。",
    ),
}
