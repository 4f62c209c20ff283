"""Tests for huatu.metadata: A1111-compatible ``parameters`` text and PNG text chunks (and
:func:`huatu.history.write_png`, the file writer, on them)."""

from __future__ import annotations

import io
import json
import os
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from huatu.errors import HuatuError
from huatu.history import files, write_png
from huatu.metadata import (
    MetadataKeyError,
    ParsedParameters,
    format_number,
    format_parameters,
    parse_parameters,
    png_bytes,
    read_parameters,
)
from huatu.request import DEFAULT_STEPS, GenerationRequest
from huatu.schedulers import SCHEDULERS

# --------------------------------------------------------------------------------------------
# An independent reference: a faithful copy of AUTOMATIC1111's parse_generation_parameters
# (modules/infotext_utils.py, v1.10), without the parts that need A1111's options and models.

A1111_RE_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
A1111_RE_IMAGESIZE = re.compile(r"^(\d+)x(\d+)$")


def a1111_unquote(text: str) -> str:
    if len(text) == 0 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        return json.loads(text)
    except Exception:
        return text


def a1111_parse_generation_parameters(x: str) -> dict[str, str]:
    res: dict[str, str] = {}
    prompt = ""
    negative_prompt = ""
    done_with_prompt = False

    *lines, lastline = x.strip().split("\n")
    if len(A1111_RE_PARAM.findall(lastline)) < 3:
        lines.append(lastline)
        lastline = ""

    for line in lines:
        line = line.strip()
        if line.startswith("Negative prompt:"):
            done_with_prompt = True
            line = line[16:].strip()
        if done_with_prompt:
            negative_prompt += ("" if negative_prompt == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line

    res["Prompt"] = prompt
    res["Negative prompt"] = negative_prompt

    for k, v in A1111_RE_PARAM.findall(lastline):
        try:
            if v[0] == '"' and v[-1] == '"':
                v = a1111_unquote(v)
            m = A1111_RE_IMAGESIZE.match(v)
            if m is not None:
                res[f"{k}-1"] = m.group(1)
                res[f"{k}-2"] = m.group(2)
            else:
                res[k] = v
        except Exception:
            print(f'Error parsing "{k}: {v}"')
    return res


def as_a1111_dict(parsed: ParsedParameters) -> dict[str, str]:
    """Express huatu's result in the shape of A1111's result dict."""
    res = {"Prompt": parsed.prompt, "Negative prompt": parsed.negative_prompt}
    for key, value in parsed.settings.items():
        size = A1111_RE_IMAGESIZE.match(value)
        if size is not None:
            res[f"{key}-1"], res[f"{key}-2"] = size.group(1), size.group(2)
        else:
            res[key] = value
    return res


def assume_unambiguous_keys(text: str) -> None:
    """Skip texts whose settings keys collide (A1111's dict then depends on key order)."""
    last_line = text.strip().split("\n")[-1]
    keys = [key for key, value in A1111_RE_PARAM.findall(last_line) if value]
    reserved = {"Prompt", "Negative prompt"}
    assume(len(set(keys)) == len(keys))
    assume(not any(key in reserved or re.search(r"-[12]$", key) for key in keys))


def assert_agrees_with_a1111(text: str) -> None:
    assert as_a1111_dict(parse_parameters(text)) == a1111_parse_generation_parameters(text)


# --------------------------------------------------------------------------------------------
# Strategies

PUNCTUATION = list(",:\"\\-/()[]{}<>_.'!?#|") + ["，", "：", "。", "（", "）", "“", "”", "、"]
CJK = list("中文提示画图猫狗山水风景人物高清") + ["\u3000"]
SPACES = [" ", " ", "\t", "\r", "\xa0"]

line_char = st.one_of(
    st.sampled_from(PUNCTUATION + CJK + SPACES),
    st.characters(exclude_categories=("Cs",), exclude_characters="\n\x00"),
    st.sampled_from(list("abcdefgxyz ABC0123456789")),
)
line_text = st.text(alphabet=line_char, max_size=30)

setting_key = st.from_regex(r"\w[\w \-/]{0,12}", fullmatch=True)
setting_value = st.one_of(
    line_text.filter(lambda text: "," not in text),
    line_text.map(lambda text: json.dumps(text, ensure_ascii=False)),
    line_text.map(json.dumps),
    st.sampled_from(['"', '""', '"a', 'a"', '"a\\"', "512x768", " 7 ", "", "DPM++ 2M Karras"]),
)


@st.composite
def settings_lines(draw: Any) -> str:
    items = draw(
        st.lists(st.tuples(setting_key, st.sampled_from([": ", ":", " : ", ":  "]), setting_value))
    )
    separator = draw(st.sampled_from([", ", ",", " , "]))
    line = separator.join(f"{key}{colon}{value}" for key, colon, value in items)
    return line + draw(st.sampled_from(["", ",", " ", ", junk"]))


any_line = st.one_of(
    line_text,
    line_text.map(lambda text: "Negative prompt:" + text),
    line_text.map(lambda text: "  Negative prompt: " + text),
    settings_lines(),
)


@st.composite
def parameter_texts(draw: Any) -> str:
    lines = draw(st.lists(any_line, min_size=1, max_size=6))
    if draw(st.booleans()):
        lines.append(draw(settings_lines()))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return draw(st.sampled_from(["", " ", "\n"])) + newline.join(lines)


@st.composite
def clean_texts(draw: Any, *, required: bool) -> str:
    """Multi-line text that A1111's reader gives back unchanged (lines already stripped)."""
    lines = draw(st.lists(line_text.map(str.strip), min_size=1, max_size=4))
    text = "\n".join(lines).strip()
    assume(text or not required)
    assume(not any(line.startswith("Negative prompt:") for line in text.split("\n")))
    return text


extra_key = st.from_regex(r"\w[\w \-/]{0,12}[\w\-/]", fullmatch=True).filter(
    lambda key: (
        key not in {"Steps", "Sampler", "CFG scale", "Seed", "Size", "Model", "Version"}
        and key != "Schedule type"
    )
)
extra_value = st.one_of(
    line_text,
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["a, b", "key: value", 'say "hi"', '"', "", " x ", "x\ny", "中文，提示"]),
)


@st.composite
def requests(draw: Any) -> GenerationRequest:
    return GenerationRequest.create(
        prompt=draw(clean_texts(required=True)),
        negative_prompt=draw(clean_texts(required=False)),
        num_inference_steps=draw(st.integers(1, 100)),
        guidance_scale=draw(
            st.one_of(st.sampled_from([0, 1, 7, 7.0, 7.5, 12.25]), st.floats(0, 20))
        ),
        width=draw(st.integers(8, 128)) * 8,
        height=draw(st.integers(8, 128)) * 8,
        scheduler=draw(st.sampled_from(list(SCHEDULERS))),
    )


HYPOTHESIS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_request(**fields: Any) -> GenerationRequest:
    return GenerationRequest.create(**{"prompt": "a cat", **fields})


def fmt(request: GenerationRequest, **kwargs: Any) -> str:
    options: dict[str, Any] = {
        "seed": 123,
        "sampler": SCHEDULERS[request.scheduler].label,
        "model": "stable-diffusion-v1-5",
    }
    options.update(kwargs)
    return format_parameters(request, **options)


# --------------------------------------------------------------------------------------------
# format_parameters


def test_format_matches_a1111_layout() -> None:
    request = make_request(
        prompt="a cat",
        negative_prompt="ugly, blurry",
        num_inference_steps=25,
        guidance_scale=7,
        width=512,
        height=768,
    )
    text = fmt(request)
    assert text == (
        "a cat\n"
        "Negative prompt: ugly, blurry\n"
        "Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 123, Size: 512x768, "
        "Model: stable-diffusion-v1-5, Version: huatu 0.1.0"
    )


def test_format_leaves_out_empty_negative_and_keeps_prompt_lines() -> None:
    text = fmt(make_request(prompt="line one\n  line two  \n\nline four"))
    assert text.split("\n")[:4] == ["line one", "  line two  ", "", "line four"]
    assert "Negative prompt" not in text
    assert text.split("\n")[-1].startswith(f"Steps: {DEFAULT_STEPS}, Sampler: DPM++ 2M Karras")


@pytest.mark.parametrize(
    ("value", "written"),
    [(7, "7"), (7.0, "7"), (7.5, "7.5"), (0.0, "0"), (12.25, "12.25"), (1e-05, "1e-05")],
)
def test_cfg_scale_written_like_a1111(value: float, written: str) -> None:
    assert format_number(value) == written
    text = fmt(make_request(guidance_scale=value))
    assert f"CFG scale: {written}," in text
    assert parse_parameters(text).to_request_fields()["guidance_scale"] == float(value)


def test_the_model_hash_is_written_before_the_model_as_a1111_does() -> None:
    text = format_parameters(
        make_request(), seed=1, sampler="Euler", model="dream", model_hash="0123456789"
    )
    assert "Size: 512x512, Model hash: 0123456789, Model: dream, Version" in text
    assert parse_parameters(text).settings["Model hash"] == "0123456789"
    with pytest.raises(MetadataKeyError):  # written by the argument only, never twice
        fmt(make_request(), extra={"Model hash": "0123456789"})
    assert "Model hash" not in fmt(make_request())


def test_extra_items_come_before_version_and_are_quoted_when_needed() -> None:
    extra = {
        "VAE hash": "abc123",
        "Original prompt": 'a "cat", sitting: on a mat',
        "Denoising strength": 0.75,
        "Clip skip": 2,
        "Skipped": None,
        "Tiling": True,
        "Styles": "['Fooocus V2', 'Fooocus Enhance']",
    }
    text = fmt(make_request(), extra=extra)
    settings_line = text.split("\n")[-1]
    assert settings_line.endswith(
        "Model: stable-diffusion-v1-5, VAE hash: abc123, "
        'Original prompt: "a \\"cat\\", sitting: on a mat", Denoising strength: 0.75, '
        "Clip skip: 2, Tiling: True, Styles: \"['Fooocus V2', 'Fooocus Enhance']\", "
        "Version: huatu 0.1.0"
    )
    parsed = parse_parameters(text)
    assert parsed.settings["Original prompt"] == 'a "cat", sitting: on a mat'
    assert parsed.settings["Styles"] == "['Fooocus V2', 'Fooocus Enhance']"
    assert parsed.settings["Denoising strength"] == "0.75"
    assert "Skipped" not in parsed.settings
    assert list(parsed.settings)[-1] == "Version"


@pytest.mark.parametrize("key", ["", "x", " Padded", "Bad:key", "Comma,key", "Trailing ", "a\nb"])
def test_extra_key_that_cannot_be_read_back_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="cannot be written") as caught:
        fmt(make_request(), extra={key: "value"})
    assert isinstance(caught.value, MetadataKeyError)
    assert str(caught.value).startswith(f"Metadata key {key!r} cannot be written: use 2 or more")


@pytest.mark.parametrize("key", ["Steps", "Seed", "Model", "Version"])
def test_extra_key_may_not_repeat_a_standard_key(key: str) -> None:
    with pytest.raises(ValueError, match="written by huatu itself") as caught:
        fmt(make_request(), extra={key: "value"})
    assert str(caught.value) == f"Metadata key {key!r} is written by huatu itself; rename it."
    assert caught.value.render("zh-CN") == f"元数据键 {key!r} 由 huatu 自己写入；请换个名字。"  # type: ignore[attr-defined]


def test_model_and_sampler_values_never_break_parsing() -> None:
    text = fmt(
        make_request(),
        model='C:\\models\\my, "best": model.safetensors',
        sampler="Odd, Sampler: name",
    )
    parsed = parse_parameters(text)
    assert parsed.settings["Model"] == 'C:\\models\\my, "best": model.safetensors'
    assert parsed.settings["Sampler"] == "Odd, Sampler: name"
    assert parsed.settings["Seed"] == "123"
    assert "scheduler" not in parsed.to_request_fields()


# --------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("scheduler_id", list(SCHEDULERS))
def test_each_scheduler_label_maps_back_to_its_id(scheduler_id: str) -> None:
    request = make_request(scheduler=scheduler_id)
    text = fmt(request)
    assert f"Sampler: {SCHEDULERS[scheduler_id].label}," in text
    assert parse_parameters(text).to_request_fields()["scheduler"] == scheduler_id


def test_round_trip_chinese_prompt_and_negative() -> None:
    request = make_request(
        prompt="一只猫坐在窗台上，水彩画风格\n高清，细节丰富",
        negative_prompt="中文提示：模糊，低质量\n水印",
        num_inference_steps=30,
        guidance_scale=7.5,
        width=768,
        height=512,
        scheduler="euler_a",
    )
    text = fmt(request, seed=42, model="模型/中文", extra={"风格": "水墨，写意"})
    parsed = parse_parameters(text)
    assert parsed.prompt == request.prompt
    assert parsed.negative_prompt == request.negative_prompt
    assert parsed.settings["Model"] == "模型/中文"
    assert parsed.settings["风格"] == "水墨，写意"
    assert GenerationRequest.create(**parsed.to_request_fields()) == request.with_seed(42)


@pytest.mark.parametrize(
    ("prompt", "negative"),
    [
        ("a cat", ""),
        ("a cat,\nsitting: on a mat,\n(masterpiece:1.2)", "ugly,\nblurry"),
        ('a "quoted" cat', 'no "dogs"'),
        ("first\n\nthird", "one\n\nthree"),
        ("Steps: 1, Sampler: x, Seed: 2", "CFG scale: 3, Size: 8x8, Model: m"),
    ],
)
def test_round_trip_examples(prompt: str, negative: str) -> None:
    request = make_request(prompt=prompt, negative_prompt=negative, seed=5)
    text = fmt(request, seed=5)
    parsed = parse_parameters(text)
    assert (parsed.prompt, parsed.negative_prompt) == (prompt, negative)
    assert GenerationRequest.create(**parsed.to_request_fields()) == request
    assert_agrees_with_a1111(text)


@HYPOTHESIS
@given(
    request=requests(),
    seed=st.integers(0, 2**32 - 1),
    model=line_text,
    extra=st.dictionaries(extra_key, extra_value, max_size=5),
)
def test_format_parse_round_trip(
    request: GenerationRequest, seed: int, model: str, extra: dict[str, object]
) -> None:
    sampler = SCHEDULERS[request.scheduler].label
    text = format_parameters(request, seed=seed, sampler=sampler, model=model, extra=extra)
    parsed = parse_parameters(text)

    assert parsed.prompt == request.prompt
    assert parsed.negative_prompt == request.negative_prompt
    expected_settings = {
        "Steps": str(request.num_inference_steps),
        "Sampler": sampler,
        "CFG scale": format_number(request.guidance_scale),
        "Seed": str(seed),
        "Size": f"{request.width}x{request.height}",
        "Model": model,
        **{
            key: format_number(value) if isinstance(value, (int, float)) else str(value)
            for key, value in extra.items()
        },
        "Version": "huatu 0.1.0",
    }
    assert parsed.settings == expected_settings
    assert list(parsed.settings) == list(expected_settings)
    assert GenerationRequest.create(**parsed.to_request_fields()) == request.with_seed(seed)

    assume_unambiguous_keys(text)
    assert_agrees_with_a1111(text)


# --------------------------------------------------------------------------------------------
# Parsing like A1111


@HYPOTHESIS
@given(text=parameter_texts())
def test_parse_agrees_with_a1111_reference(text: str) -> None:
    assume_unambiguous_keys(text)
    assert_agrees_with_a1111(text)


def test_parse_a1111_sample_with_schedule_type() -> None:
    text = (
        "a cat\n"
        "Negative prompt: ugly, blurry\n"
        "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234, "
        "Size: 512x768, Model hash: abc123, Model: v1-5-pruned-emaonly, Version: v1.10.1"
    )
    parsed = parse_parameters(text)
    assert parsed.prompt == "a cat"
    assert parsed.negative_prompt == "ugly, blurry"
    assert parsed.settings == {
        "Steps": "20",
        "Sampler": "DPM++ 2M",
        "Schedule type": "Karras",
        "CFG scale": "7",
        "Seed": "1234",
        "Size": "512x768",
        "Model hash": "abc123",
        "Model": "v1-5-pruned-emaonly",
        "Version": "v1.10.1",
    }
    fields = parsed.to_request_fields()
    assert fields == {
        "prompt": "a cat",
        "negative_prompt": "ugly, blurry",
        "num_inference_steps": 20,
        "guidance_scale": 7.0,
        "width": 512,
        "height": 768,
        "seed": 1234,
        "scheduler": "dpmpp_2m_karras",
    }
    assert isinstance(fields["guidance_scale"], float)
    assert GenerationRequest.create(**fields).scheduler == "dpmpp_2m_karras"
    assert_agrees_with_a1111(text)


def test_parse_older_a1111_sample_with_multiline_prompts() -> None:
    text = (
        "masterpiece, best quality,\n"
        "1girl, (blue eyes:1.2), <lora:detail:0.5>\n"
        "Negative prompt: lowres, bad anatomy,\n"
        "(worst quality:1.4)\n"
        "Steps: 28, Sampler: Euler a, CFG scale: 7.5, Seed: 3030, Size: 512x512, "
        'Model hash: 6ce0161689, Model: v1-5, Clip skip: 2, ENSD: 31337, Lora hashes: "detail: '
        'a1b2c3", Version: v1.6.0'
    )
    parsed = parse_parameters(text)
    assert parsed.prompt == "masterpiece, best quality,\n1girl, (blue eyes:1.2), <lora:detail:0.5>"
    assert parsed.negative_prompt == "lowres, bad anatomy,\n(worst quality:1.4)"
    assert parsed.settings["Lora hashes"] == "detail: a1b2c3"
    assert parsed.settings["ENSD"] == "31337"
    fields = parsed.to_request_fields()
    assert fields["scheduler"] == "euler_a"
    assert fields["guidance_scale"] == 7.5
    assert (fields["width"], fields["height"], fields["seed"]) == (512, 512, 3030)
    assert_agrees_with_a1111(text)


def test_parse_fooocus_a1111_style_sample() -> None:
    text = (
        "a cat sitting on a windowsill\n"
        "Negative prompt: (worst quality, low quality:1.4)\n"
        "Steps: 30, Sampler: DPM++ 2M SDE GPU, Seed: 567, Size: 1152x896, CFG scale: 4, "
        'Sharpness: 2, ADM Guidance: "(1.5, 0.8, 0.3)", Base Model: juggernautXL_v8Rundiffusion, '
        "Refiner Model: None, Refiner Switch: 0.5, Scheduler: karras, "
        'Fooocus V2 Expansion: "a cat sitting on a windowsill, intricate, highly detailed", '
        "Styles: \"['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp']\", Performance: Speed, "
        "Version: Fooocus v2.5.5"
    )
    parsed = parse_parameters(text)
    assert parsed.prompt == "a cat sitting on a windowsill"
    assert parsed.negative_prompt == "(worst quality, low quality:1.4)"
    assert parsed.settings["Fooocus V2 Expansion"] == (
        "a cat sitting on a windowsill, intricate, highly detailed"
    )
    assert parsed.settings["Styles"] == "['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp']"
    assert parsed.settings["Performance"] == "Speed"
    assert parsed.settings["ADM Guidance"] == "(1.5, 0.8, 0.3)"
    assert parsed.settings["Version"] == "Fooocus v2.5.5"
    assert parsed.to_request_fields() == {
        "prompt": "a cat sitting on a windowsill",
        "negative_prompt": "(worst quality, low quality:1.4)",
        "num_inference_steps": 30,
        "guidance_scale": 4.0,
        "width": 1152,
        "height": 896,
        "seed": 567,
    }
    assert_agrees_with_a1111(text)


@pytest.mark.parametrize(
    ("sampler", "schedule", "expected"),
    [
        ("DPM++ 2M Karras", None, "dpmpp_2m_karras"),
        ("DPM++ 2M", None, "dpmpp_2m"),
        ("DPM++ 2M", "Karras", "dpmpp_2m_karras"),
        ("DPM++ 2M", "Automatic", "dpmpp_2m_karras"),  # A1111 1.9+: DPM++ 2M defaults to Karras
        ("DPM++ 2M", "Uniform", "dpmpp_2m"),
        ("Euler a", "Automatic", "euler_a"),
        ("Euler", None, "euler"),
        ("euler", None, "euler"),
        ("DDIM", "Automatic", "ddim"),
        ("PNDM", None, "pndm"),
        ("Euler", "Karras", None),
        ("DPM++ 2M", "Exponential", None),
        ("DPM++ 2M SDE GPU", None, None),
        ("LCM", None, "lcm"),
    ],
)
def test_sampler_and_schedule_type(sampler: str, schedule: str | None, expected: str | None):
    schedule_item = f", Schedule type: {schedule}" if schedule else ""
    text = f"p\nSteps: 20, Sampler: {sampler}{schedule_item}, CFG scale: 7, Seed: 1"
    assert parse_parameters(text).to_request_fields().get("scheduler") == expected


def test_last_line_with_fewer_than_three_settings_belongs_to_the_prompt() -> None:
    parsed = parse_parameters("a cat\nSteps: 20, Seed: 5")
    assert parsed == ParsedParameters("a cat\nSteps: 20, Seed: 5", "", {})
    parsed = parse_parameters("a cat\nNegative prompt: dog\nfoo: 1, bar: 2")
    assert parsed.prompt == "a cat"
    assert parsed.negative_prompt == "dog\nfoo: 1, bar: 2"
    assert parsed.settings == {}
    assert parsed.to_request_fields() == {
        "prompt": "a cat",
        "negative_prompt": "dog\nfoo: 1, bar: 2",
    }


def test_parse_is_forgiving() -> None:
    assert parse_parameters("") == ParsedParameters("", "", {})
    assert parse_parameters("just a prompt") == ParsedParameters("just a prompt", "", {})
    parsed = parse_parameters("  a\r\n  b  \r\nNegative prompt:   c\r\nAa: 1, Bb: 2, Cc: 3\r\n")
    assert (parsed.prompt, parsed.negative_prompt) == ("a\nb", "c")
    assert parsed.settings == {"Aa": "1", "Bb": "2", "Cc": "3"}
    # A1111's regex wants keys of 2+ characters: this last line is part of the prompt.
    assert parse_parameters("p\nA: 1, B: 2, C: 3").prompt == "p\nA: 1, B: 2, C: 3"


def test_bad_values_are_skipped_not_raised() -> None:
    text = (
        "p\nSteps: many, Sampler: Unknown, CFG scale: high, Seed: abc, Size: big, "
        'Empty: , Broken: "unterminated, Model: m'
    )
    parsed = parse_parameters(text)
    assert "Empty" not in parsed.settings  # A1111 drops empty bare values too
    assert parsed.settings["Broken"] == '"unterminated'
    assert parsed.to_request_fields() == {"prompt": "p", "negative_prompt": ""}
    nan = parse_parameters("p\nSteps: 1.5, CFG scale: nan, Seed: 1e400, Size: 64x")
    assert nan.to_request_fields() == {"prompt": "p", "negative_prompt": ""}
    assert_agrees_with_a1111(text)


def test_whole_float_numbers_are_accepted_for_integers() -> None:
    fields = parse_parameters("p\nSteps: 25.0, Seed: 42, CFG scale: 7.25").to_request_fields()
    assert fields["num_inference_steps"] == 25
    assert isinstance(fields["num_inference_steps"], int)
    assert fields["seed"] == 42
    assert fields["guidance_scale"] == 7.25


def test_duplicate_keys_last_wins() -> None:
    parsed = parse_parameters("p\nSeed: 1, Steps: 2, Seed: 3")
    assert parsed.settings == {"Seed": "3", "Steps": "2"}


def test_parsed_parameters_is_frozen_and_hashable() -> None:
    parsed = parse_parameters("p\nAa: 1, Bb: 2, Cc: 3")
    with pytest.raises(AttributeError):
        parsed.prompt = "x"  # type: ignore[misc]
    assert hash(parsed) == hash(ParsedParameters("p", "", {"other": "settings"}))


# --------------------------------------------------------------------------------------------
# PNG files


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks = []
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunks.append((kind, data[offset + 8 : offset + 8 + length]))
        offset += 12 + length
    return chunks


def chunk_types(data: bytes) -> list[bytes]:
    return [kind for kind, _ in png_chunks(data)]


@pytest.fixture
def image() -> Image.Image:
    return Image.new("RGB", (16, 8), (200, 30, 60))


SAMPLE_TEXT = "a cat\nNegative prompt: dog\nSteps: 25, Sampler: Euler a, CFG scale: 7, Seed: 1"


def test_write_png_latin1_text_uses_text_chunk(tmp_path: Path, image: Image.Image) -> None:
    text = SAMPLE_TEXT + ", Note: café"
    path = write_png(image, tmp_path / "out.png", text)
    assert path == tmp_path / "out.png"
    data = path.read_bytes()
    assert b"tEXt" in data and b"iTXt" not in data
    assert (b"tEXt", b"parameters\x00" + text.encode("latin-1")) in png_chunks(data)
    assert read_parameters(path) == text
    assert read_parameters(str(path)) == text
    with Image.open(path) as reopened:
        assert reopened.size == (16, 8)
        assert reopened.getpixel((0, 0)) == (200, 30, 60)


def test_write_png_chinese_text_uses_itxt_chunk(tmp_path: Path, image: Image.Image) -> None:
    text = "一只猫\nNegative prompt: 中文提示，模糊\nSteps: 25, Sampler: Euler a, Seed: 1"
    path = write_png(image, tmp_path / "中文.png", text)
    data = path.read_bytes()
    assert b"iTXt" in data and b"tEXt" not in data
    assert text.encode("utf-8") in data
    assert read_parameters(path) == text
    assert read_parameters(data) == text


def test_png_bytes_is_the_same_png(tmp_path: Path, image: Image.Image) -> None:
    data = png_bytes(image, SAMPLE_TEXT)
    assert data == write_png(image, tmp_path / "a.png", SAMPLE_TEXT).read_bytes()
    assert read_parameters(data) == SAMPLE_TEXT
    assert read_parameters(bytearray(data)) == SAMPLE_TEXT
    assert chunk_types(data) == [b"IHDR", b"tEXt", b"IDAT", b"IEND"]


def test_write_png_creates_folders_and_replaces_atomically(
    tmp_path: Path, image: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "deep" / "er" / "out.png"
    write_png(image, target, "first")
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def recording_replace(source: str, destination: str) -> None:
        renames.append((Path(source).name, Path(destination).name))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", recording_replace)
    write_png(image, str(target), "second")
    assert read_parameters(target) == "second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.png"]
    # written beside it under huatu's temporary name, then renamed over it in one step
    ((temp, final),) = renames
    assert files.TEMP_RE.fullmatch(temp) and final == "out.png"


def test_write_png_failure_leaves_no_partial_file(tmp_path: Path, image: Image.Image) -> None:
    target = tmp_path / "out.png"
    write_png(image, target, "good")
    before = target.read_bytes()
    cmyk = image.convert("CMYK")  # Pillow cannot write CMYK as PNG
    with pytest.raises(OSError):
        write_png(cmyk, target, "bad")
    with pytest.raises(OSError):
        write_png(cmyk, tmp_path / "new.png", "bad")
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    assert target.read_bytes() == before


def test_write_png_failure_while_writing_removes_temp_file(
    tmp_path: Path, image: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_write(descriptor: int, data: bytes) -> None:
        os.write(descriptor, data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(files, "write_fully", half_write)
    with pytest.raises(KeyboardInterrupt):
        write_png(image, tmp_path / "out.png", "text")
    assert list(tmp_path.iterdir()) == []


def test_read_parameters_from_an_open_image(image: Image.Image) -> None:
    with Image.open(io.BytesIO(png_bytes(image, SAMPLE_TEXT))) as opened:
        assert read_parameters(opened) == SAMPLE_TEXT
    image.info["parameters"] = "in memory"
    assert read_parameters(image) == "in memory"


def test_read_parameters_without_chunk_is_none(tmp_path: Path, image: Image.Image) -> None:
    path = tmp_path / "plain.png"
    image.save(path)
    assert read_parameters(path) is None
    assert read_parameters(Image.new("RGB", (4, 4))) is None
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    assert read_parameters(buffer.getvalue()) is None


def test_read_parameters_finds_chunk_after_image_data(image: Image.Image) -> None:
    data = png_bytes(image, "")
    chunks = [(kind, body) for kind, body in png_chunks(data) if kind != b"tEXt"]
    body = b"parameters\x00late text"
    late = struct.pack(">I", len(body)) + b"tEXt" + body
    late += struct.pack(">I", zlib.crc32(b"tEXt" + body))
    rebuilt = bytearray(data[:8])
    for kind, chunk in chunks:
        if kind == b"IEND":
            rebuilt += late
        rebuilt += struct.pack(">I", len(chunk)) + kind + chunk
        rebuilt += struct.pack(">I", zlib.crc32(kind + chunk))
    assert chunk_types(bytes(rebuilt)) == [b"IHDR", b"IDAT", b"tEXt", b"IEND"]
    assert read_parameters(bytes(rebuilt)) == "late text"


@pytest.mark.parametrize("form", ["JPEG", "WEBP"])
@pytest.mark.parametrize(
    "comment",
    [
        b"UNICODE\x00" + "一只猫\nSteps: 20, Seed: 1, Size: 8x8".encode("utf-16-be"),
        b"ASCII\x00\x00\x00a cat\nSteps: 20, Seed: 1, Size: 8x8",
    ],
)
def test_read_parameters_from_jpeg_and_webp_exif(
    image: Image.Image, form: str, comment: bytes
) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = comment
    buffer = io.BytesIO()
    image.save(buffer, form, exif=exif)
    text = read_parameters(buffer.getvalue())
    assert text is not None and text.endswith("\nSteps: 20, Seed: 1, Size: 8x8")


def test_read_parameters_on_non_image_bytes_raises() -> None:
    with pytest.raises(HuatuError, match=r"^The given data is not a PNG/JPEG/WebP image") as info:
        read_parameters(b"certainly not an image")
    assert info.value.render("zh-CN") == "给定的数据不是 huatu 能读取的 PNG/JPEG/WebP 图片。"


def test_read_parameters_on_non_image_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello")
    with pytest.raises(HuatuError) as caught:
        read_parameters(path)
    # the file's name only: in the studio the folder is the server's upload cache
    assert str(caught.value) == "notes.png is not a PNG/JPEG/WebP image huatu can read."
    assert caught.value.render("zh-CN") == "notes.png 不是 huatu 能读取的 PNG/JPEG/WebP 图片。"


def test_read_parameters_on_truncated_png_raises(tmp_path: Path, image: Image.Image) -> None:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 50).save(buffer, "PNG")
    data = buffer.getvalue()
    with pytest.raises(HuatuError, match="is not a PNG/JPEG/WebP image"):
        read_parameters(data[: len(data) - 100])


def test_read_parameters_on_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(HuatuError, match="cannot be opened") as caught:
        read_parameters(tmp_path / "missing.png")
    assert str(caught.value) == "missing.png cannot be opened: No such file or directory."


def test_read_parameters_on_broken_open_image_raises() -> None:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 50).save(buffer, "PNG")
    data = buffer.getvalue()
    broken = Image.open(io.BytesIO(data[: len(data) - 100]))
    with broken, pytest.raises(HuatuError, match="^The given image is not one huatu can read"):
        read_parameters(broken)


def test_reading_parameters_never_decodes_the_pixels(tmp_path: Path) -> None:
    """A small PNG that claims 12000×12000 pixels is read by its chunks alone: a fresh
    process reading it stays far below the 432 MB that decoding would need."""
    import subprocess
    import sys

    path = write_png(Image.new("RGB", (12000, 12000)), tmp_path / "huge.png", "a huge canvas")
    assert path.stat().st_size < 2_000_000
    probe = (  # VmHWM: this process's own peak (ru_maxrss would count the forked parent)
        "import re, sys; from pathlib import Path; "
        "from huatu.metadata import read_parameters; p = Path(sys.argv[1]); "
        "assert read_parameters(p) == read_parameters(p.read_bytes()) == 'a huge canvas'; "
        "print(re.search(r'VmHWM:\\s+(\\d+)', Path('/proc/self/status').read_text())[1])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 200_000  # KiB; decoding alone would take 432 MB
