"""Texts of the HTTP APIs' own answers (AUTOMATIC1111's and OpenAI's): their refusals and failures.

The APIs answer in English; the Chinese is there for the day a client asks for it.
"""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "api_unexpected_failure": (
        "Generation failed unexpectedly ({kind}); see the server log.",
        "生成意外失败（{kind}）；详情见服务器日志。",
    ),
    "api_unparsable_request": (
        "We could not parse your request: {detail}.",
        "无法解析你的请求：{detail}。",
    ),
    "api_invalid_request": (
        "invalid request",
        "请求无效",
    ),
    "api_invalid_url": (
        "Invalid URL ({method} {path}).",
        "无效的 URL（{method} {path}）。",
    ),
    "api_no_such_image": (
        "No such image.",
        "没有这张图片。",
    ),
    "openai_internal_error": (
        "huatu failed to answer this request; the server log has details.",
        "huatu 未能回应这个请求；详情见服务器日志。",
    ),
    "openai_body_object": (
        "The body must be a JSON object, but is {value}.",
        "请求体必须是 JSON 对象，但现在是 {value}。",
    ),
    "openai_content_type": (
        "Send the body as JSON with the header Content-Type: application/json (got {value}).",
        "请以 JSON 发送请求体，并带上请求头 Content-Type: application/json（收到的是 {value}）。",
    ),
    "openai_content_type_form": (
        ("Send the body as multipart/form-data with the picture in the field image (got {value})."),
        "请以 multipart/form-data 发送请求体，图片放在 image 字段（收到的是 {value}）。",
    ),
    "reason_mcp_picture_url": (
        "must be the URL of an image this server made, or base64 PNG text",
        "必须是本服务器生成的图片的 URL，或 base64 编码的 PNG 文本",
    ),
    "reason_openai_mask": (
        "must have fully transparent pixels where the picture is to be edited",
        "必须在要编辑的地方有完全透明的像素",
    ),
    "openai_invalid_json": (
        "We could not parse the JSON body of your request ({detail}).",
        "无法解析请求中的 JSON 请求体（{detail}）。",
    ),
    "openai_unknown_url": (
        (
            "Invalid URL ({method} {path}): this server offers POST /v1/images/generations, GET "
            "/v1/models and GET /v1/models/{{model}}."
        ),
        (
            "无效的 URL（{method} {path}）：本服务器提供 POST /v1/images/generations、GET /v1/"
            "models 和 GET /v1/models/{{model}}。"
        ),
    ),
    "openai_model_not_found": (
        (
            "The model {value} does not exist here; this server serves {served!r} "
            "(GET /v1/models lists every model it can switch to)."
        ),
        (
            "这里没有模型 {value}；本服务器提供的是 {served!r}（GET /v1/models 列出可切换的"
            "全部模型）。"
        ),
    ),
    "reason_openai_model": (
        (
            "must be {served!r} (the model this server serves), another model of "
            "GET /v1/models ({listed}), or an OpenAI image model name such as 'gpt-image-1' "
            "meaning the served one"
        ),
        (
            "必须是 {served!r}（本服务器提供的模型）、GET /v1/models 中的其他模型"
            "（{listed}），或指代所提供模型的 OpenAI 图像模型名称，例如 'gpt-image-1'"
        ),
    ),
    "reason_openai_response_format": (
        "must be 'b64_json' or 'url'",
        "必须是 'b64_json' 或 'url'",
    ),
    "openai_stream": (
        "`stream` is not supported here; leave it out or set it to false.",
        "这里不支持 `stream`（流式返回）；请不要发送它，或把它设为 false。",
    ),
    "openai_size_rule": (
        (
            "`size` must be 'auto' or WIDTHxHEIGHT with each side an integer from {low} to {high} "
            "and a multiple of {multiple}"
        ),
        (
            "`size`（尺寸）必须是 'auto' 或 WIDTHxHEIGHT（宽x高），每边是 {low} 到 {high} 之间、{"
            "multiple} 的倍数的整数"
        ),
    ),
    "openai_size": (
        "{rule}, but is {value}.",
        "{rule}，但现在是 {value}。",
    ),
    "openai_size_side": (
        "{rule}, but is {value} ({field} {number}).",
        "{rule}，但现在是 {value}（{field} {number}）。",
    ),
    "http_unauthorized": (
        "This huatu server needs credentials: HTTP Basic user:password or a Bearer key.",
        "这个 huatu 服务器需要凭据：HTTP Basic 的 user:password 或 Bearer 密钥。",
    ),
    "http_foreign_host": (
        "This server does not answer for {host}.",
        "这个服务器不为 {host} 提供服务。",
    ),
    "http_cross_site": (
        "Requests from other websites are refused.",
        "来自其他网站的请求会被拒绝。",
    ),
}
