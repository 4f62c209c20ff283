"""Texts about translating prompts: the glossary, the translators and their failures."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "translation_model_reads_chinese": (
        "The model {model} reads Chinese, so prompts are used as written.",
        "模型 {model} 能读懂中文，提示按原样使用。",
    ),
    "translation_hosted_chosen": (
        "A Hugging Face key is set, so prompts are translated by {model} through the hosted API.",
        "已设置 Hugging Face 密钥，提示由 {model} 通过托管 API 翻译。",
    ),
    "translation_local_chosen": (
        "Prompts are translated on this computer by {model}.",
        "提示由 {model} 在本机翻译。",
    ),
    "translation_offline": (
        (
            "HF_HUB_OFFLINE is set, so the hosted translator is off; unset it, or {todo} to "
            "translate locally."
        ),
        "由于设置了 HF_HUB_OFFLINE，托管翻译已关闭；请取消该设置，或{todo}以便在本地翻译。",
    ),
    "translation_no_translator": (
        "Set HF_API_KEY to translate through Hugging Face, or {todo} to translate locally.",
        "请设置 HF_API_KEY 以通过 Hugging Face 翻译，或{todo}以便在本地翻译。",
    ),
    "translation_todo_install": (
        "install {names} (pip install {packages})",
        "安装 {packages}（pip install {packages}）",
    ),
    "translation_todo_files": (
        "put {files} into {model}",
        "把 {files} 放进 {model}",
    ),
    "translation_todo_download": (
        "download {model} (hf download {model})",
        "下载 {model}（hf download {model}）",
    ),
    "translation_todo_both": (
        "{first} and {second}",
        "{first}，并{second}",
    ),
    "translation_todo_default": (
        "install sentencepiece and download {model}",
        "安装 sentencepiece 并下载 {model}",
    ),
    "translation_empty": (
        "{translator} returned nothing for {piece}; write that part in English.",
        "{translator} 没有为 {piece} 返回任何译文；请用英文写这一部分。",
    ),
    "translation_local_missing": (
        "The local translation model cannot be loaded: {todo}, or write the prompt in English.",
        "无法加载本地翻译模型：请先{todo}，或直接用英文写提示。",
    ),
    "translation_local_broken": (
        (
            "The local translation model {model} could not be loaded ({detail}); download it "
            "again, or write the prompt in English."
        ),
        "无法加载本地翻译模型 {model}（{detail}）；请重新下载，或直接用英文写提示。",
    ),
    "translation_local_failed": (
        "The local translation model {model} failed ({detail}); write the prompt in English.",
        "本地翻译模型 {model} 出错了（{detail}）；请直接用英文写提示。",
    ),
    "translation_hosted_no_key": (
        (
            "No Hugging Face key is set for translating the prompt; set HF_API_KEY, or write the "
            "prompt in English."
        ),
        "没有设置用于翻译提示的 Hugging Face 密钥；请设置 HF_API_KEY，或直接用英文写提示。",
    ),
    "translation_hosted_timeout": (
        (
            "The translation service at {address} sent no answer within {timeout} s; try again, "
            "or write the prompt in English."
        ),
        "位于 {address} 的翻译服务在 {timeout} 秒内没有回应；请重试，或直接用英文写提示。",
    ),
    "translation_hosted_offline": (
        (
            "Translation through Hugging Face is off because HF_HUB_OFFLINE is set; unset it, or "
            "write the prompt in English."
        ),
        (
            "由于设置了 HF_HUB_OFFLINE，通过 Hugging Face 翻译已关闭；请取消该设置，或直接用英文写"
            "提示。"
        ),
    ),
    "translation_hosted_bad_url": (
        (
            "The translation service's address {address} is not a valid http(s) URL; check "
            "HUATU_HF_ROUTER, or write the prompt in English."
        ),
        (
            "翻译服务的地址 {address} 不是有效的 http(s) 网址；请检查 HUATU_HF_ROUTER，或直接用英"
            "文写提示。"
        ),
    ),
    "translation_hosted_unreachable": (
        (
            "Could not reach the translation service at {address}; check your network and "
            "HUATU_HF_ROUTER, or write the prompt in English."
        ),
        "无法连接位于 {address} 的翻译服务；请检查网络和 HUATU_HF_ROUTER，或直接用英文写提示。",
    ),
    "translation_hosted_cut": (
        (
            "The connection to the translation service at {address} failed mid-answer; try again, "
            "or write the prompt in English."
        ),
        "与位于 {address} 的翻译服务的连接在回应途中中断；请重试，或直接用英文写提示。",
    ),
    "translation_hosted_garbage": (
        (
            "The translation service answered with something that is not a translation; try "
            "again, or write the prompt in English."
        ),
        "翻译服务返回的内容不是译文；请重试，或直接用英文写提示。",
    ),
    "translation_hosted_key_rejected": (
        (
            "Hugging Face rejected the API key ({status}) when translating the prompt; check "
            "HF_API_KEY, or write the prompt in English."
        ),
        (
            "翻译提示时 Hugging Face 拒绝了 API 密钥（{status}）；请检查 HF_API_KEY，或直接用英文"
            "写提示。"
        ),
    ),
    "translation_hosted_not_served": (
        (
            "The translation model {model} is not served by Hugging Face's hf-inference provider "
            "({status}); translate locally (install sentencepiece and download the model), or "
            "write the prompt in English."
        ),
        (
            "Hugging Face 的 hf-inference 服务商不提供翻译模型 {model}（{status}）；请在本地翻译（"
            "安装 sentencepiece 并下载该模型），或直接用英文写提示。"
        ),
    ),
    "translation_chat_not_served": (
        (
            "The chat model {model} that translates prompts is not served ({status}); set "
            "HUATU_TRANSLATION_CHAT_MODEL to a chat model a provider serves, translate locally, "
            "or write the prompt in English."
        ),
        (
            "用于翻译提示的对话模型 {model} 没有服务商提供（{status}）；请把 "
            "HUATU_TRANSLATION_CHAT_MODEL 设为有服务商提供的对话模型、在本地翻译，"
            "或直接用英文写提示。"
        ),
    ),
    "translation_hosted_loading": (
        (
            "The translation model {model} is still loading on Hugging Face (503); try again in a "
            "minute, or write the prompt in English."
        ),
        "翻译模型 {model} 仍在 Hugging Face 上加载（503）；请过一分钟再试，或直接用英文写提示。",
    ),
    "translation_hosted_rate_limited": (
        (
            "Hugging Face is rate-limiting translation requests (429); try again in a minute, or "
            "write the prompt in English."
        ),
        "Hugging Face 正在限制翻译请求的频率（429）；请过一分钟再试，或直接用英文写提示。",
    ),
    "translation_hosted_http_error": (
        (
            "The translation service answered HTTP {status}; try again, or write the prompt in "
            "English."
        ),
        "翻译服务返回了 HTTP {status}；请重试，或直接用英文写提示。",
    ),
    "translation_hosted_http_error_detail": (
        (
            "The translation service answered HTTP {status} ({detail}); try again, or write the "
            "prompt in English."
        ),
        "翻译服务返回了 HTTP {status}（{detail}）；请重试，或直接用英文写提示。",
    ),
    "glossary_where_file": (
        "The glossary file {path}",
        "术语表文件 {path}",
    ),
    "glossary_where_text": (
        "The glossary",
        "术语表",
    ),
    "glossary_too_many": (
        "{where} has {count:,} terms; at most {limit:,} are allowed.",
        "{where}有 {count:,} 条术语；最多只允许 {limit:,} 条。",
    ),
    "glossary_bad_entry": (
        "{where} has a bad entry {entry}: {problem}.",
        "{where}中有一条无效的术语 {entry}：{problem}。",
    ),
    "glossary_problem_not_text": (
        "both sides must be text",
        "等号两边都必须是文本",
    ),
    "glossary_problem_empty_term": (
        "the term before = is empty",
        "= 前面的术语是空的",
    ),
    "glossary_problem_empty_english": (
        "the English for {term} is empty",
        "{term} 对应的英文是空的",
    ),
    "glossary_problem_equals": (
        "the term {term} contains '='",
        "术语 {term} 含有“=”",
    ),
    "glossary_problem_line_break": (
        "a term must fit on one line",
        "一条术语必须写在一行内",
    ),
    "glossary_problem_too_long": (
        "a term may be at most {limit} characters",
        "一条术语最多 {limit} 个字符",
    ),
    "glossary_line_form": (
        "Glossary line {number} ({text}) is not of the form `中文 = english`.",
        "术语表第 {number} 行（{text}）不符合“中文 = english”的格式。",
    ),
    "glossary_line_problem": (
        "Glossary line {number}: {problem}.",
        "术语表第 {number} 行：{problem}。",
    ),
    "glossary_line_twice": (
        "Glossary line {number}: {term} already means {english} on line {first}.",
        "术语表第 {number} 行：{term} 在第 {first} 行已经对应 {english}。",
    ),
    "glossary_line_too_many": (
        "Glossary line {number}: a glossary may hold at most {limit:,} terms.",
        "术语表第 {number} 行：术语表最多只能有 {limit:,} 条术语。",
    ),
    "glossary_unreadable": (
        (
            "The glossary file {file} could not be read ({why}); fix it or delete it to get the "
            "default terms back."
        ),
        "无法读取术语表文件 {file}（{why}）；请修正它，或删除它以恢复默认术语。",
    ),
    "glossary_bad_json": (
        (
            "The glossary file {file} is not valid JSON; fix it or delete it to get the default "
            "terms back."
        ),
        "术语表文件 {file} 不是有效的 JSON；请修正它，或删除它以恢复默认术语。",
    ),
    "glossary_bad_json_line": (
        (
            "The glossary file {file} is not valid JSON (line {line_number}); fix it or delete it "
            "to get the default terms back."
        ),
        (
            "术语表文件 {file} 不是有效的 JSON（第 {line_number} 行）；请修正它，或删除它以恢复默"
            "认术语。"
        ),
    ),
    "glossary_not_object": (
        (
            'The glossary file {file} must hold a JSON object of "中文": "english" pairs, not '
            "a JSON {kind}; fix it or delete it to get the default terms back."
        ),
        (
            '术语表文件 {file} 必须是由 "中文": "english" 键值对组成的 JSON 对象，而不是 JSON '
            "{kind}；请修正它，或删除它以恢复默认术语。"
        ),
    ),
    "glossary_save_failed": (
        "The glossary file {file} could not be saved ({why}).",
        "无法保存术语表文件 {file}（{why}）。",
    ),
}
