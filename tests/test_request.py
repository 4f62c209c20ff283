"""The validator: one table of bad inputs with the messages people see."""

from __future__ import annotations

import math

import pytest

from huatu.errors import ValidationError
from huatu.request import GenerationRequest

BAD_INPUTS = [
    ({"prompt": ""}, "prompt", "`prompt` must not be empty, but is ''."),
    ({"prompt": "   "}, "prompt", "`prompt` must not be empty"),
    ({"prompt": 42}, "prompt", "`prompt` must be text, but is 42."),
    ({"prompt": "x" * 1001}, "prompt", "`prompt` must be at most 1,000 characters"),
    ({"prompt": "a\x00b"}, "prompt", "must not contain NUL"),
    ({"prompt": "a", "negative_prompt": "n" * 1001}, "negative_prompt", "at most 1,000"),
    (
        {"prompt": "a", "num_inference_steps": 10.7},
        "num_inference_steps",
        "`num_inference_steps` must be an integer from 1 to 100, but is 10.7.",
    ),
    ({"prompt": "a", "num_inference_steps": 0}, "num_inference_steps", "from 1 to 100, but is 0."),
    ({"prompt": "a", "num_inference_steps": 101}, "num_inference_steps", "but is 101."),
    ({"prompt": "a", "num_inference_steps": "25"}, "num_inference_steps", "but is '25'."),
    ({"prompt": "a", "num_inference_steps": True}, "num_inference_steps", "but is True."),
    (
        {"prompt": "a", "guidance_scale": -1},
        "guidance_scale",
        "`guidance_scale` must be a number from 0 to 20, but is -1.",
    ),
    ({"prompt": "a", "guidance_scale": 20.5}, "guidance_scale", "but is 20.5."),
    ({"prompt": "a", "guidance_scale": math.nan}, "guidance_scale", "but is nan."),
    ({"prompt": "a", "guidance_scale": math.inf}, "guidance_scale", "but is inf."),
    (
        {"prompt": "a", "width": 100},
        "width",
        "`width` must be an integer from 64 to 1536 and a multiple of 8, but is 100.",
    ),
    ({"prompt": "a", "width": 1544}, "width", "but is 1544."),
    ({"prompt": "a", "height": 56}, "height", "but is 56."),
    ({"prompt": "a", "height": 512.5}, "height", "but is 512.5."),
    (
        {"prompt": "a", "seed": -2},
        "seed",
        "`seed` must be -1 (random) or an integer from 0 to 4294967295, but is -2.",
    ),
    ({"prompt": "a", "seed": 2**32}, "seed", "but is 4294967296."),
    ({"prompt": "a", "seed": 1.5}, "seed", "but is 1.5."),
    (
        {"prompt": "a", "num_images": 5},
        "num_images",
        "`num_images` must be an integer from 1 to 4, but is 5.",
    ),
    ({"prompt": "a", "num_images": 0}, "num_images", "but is 0."),
    (
        {"prompt": "a", "scheduler": "karras9000"},
        "scheduler",
        "`scheduler` must be one of dpmpp_2m_karras, dpmpp_2m, euler_a, euler, ddim, pndm",
    ),
    ({"prompt": "a", "colour": "red"}, "colour", "`colour` is not a request field"),
    ({}, "prompt", "`prompt` is required"),
]


@pytest.mark.parametrize(("fields", "field", "message"), BAD_INPUTS)
def test_bad_input_is_rejected_with_field_and_value(fields, field, message):
    with pytest.raises(ValidationError) as caught:
        GenerationRequest.create(**fields)
    assert caught.value.field == field
    assert message in str(caught.value)


def test_huge_value_is_shortened_in_the_message():
    with pytest.raises(ValidationError) as caught:
        GenerationRequest.create(prompt="y" * 1_000_000)
    message = str(caught.value)
    assert len(message) < 200
    assert "1,000,000 characters" in message


def test_defaults_and_normalised_types():
    request = GenerationRequest.create(
        prompt="a dog in a park", num_inference_steps=25.0, width=512.0, seed=7.0, guidance_scale=7
    )
    assert request.num_inference_steps == 25 and isinstance(request.num_inference_steps, int)
    assert isinstance(request.width, int) and isinstance(request.seed, int)
    assert isinstance(request.guidance_scale, float)
    assert request.height == 512 and request.num_images == 1 and request.seed == 7
    assert request.scheduler == "dpmpp_2m_karras"


def test_none_means_default_and_limits_are_inclusive():
    request = GenerationRequest.create(
        prompt="p" * 1000,
        num_inference_steps=100,
        guidance_scale=0,
        width=64,
        height=1024,
        seed=2**32 - 4,
        num_images=4,
        negative_prompt=None,
    )
    assert request.negative_prompt == "" and request.seed == 2**32 - 4
    assert GenerationRequest.create(prompt="a", seed=-1).seed == -1


def test_validate_is_also_a_method_on_direct_construction():
    with pytest.raises(ValidationError, match="num_inference_steps"):
        GenerationRequest(prompt="a", num_inference_steps=10.7).validate()
