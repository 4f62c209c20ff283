"""A1111's prompt syntax (issue 12): emphasis weights against A1111's documented table,
``BREAK`` and 75-token chunks with A1111's arithmetic, the token count, and the extra networks
a prompt names — a kohya-format LoRA (``<lora:name:weight>``) and an embedding — on the tiny
models, on the local backend and through the unmodified ``webuiapi`` client.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from huatu.config import Settings
from huatu.errors import ValidationError
from huatu.metadata import parse_parameters
from huatu.prompts.chunks import CHUNK_TOKENS, TokenIds, chunk_pieces
from huatu.prompts.encoding import PromptEncoder
from huatu.prompts.syntax import Piece, extra_networks, parse_weights
from huatu.request import GenerationRequest
from huatu.service import ImageService
from tests.single_file_support import build_tiny_sdxl, save_embedding, save_kohya_lora

#: Prompts and the weights A1111 gives their pieces: the examples A1111 documents for its
#: parser (modules/prompt_parser.py, parse_prompt_attention) and its wiki's emphasis rules.
A1111_TABLE = [
    ("normal text", [("normal text", 1.0)]),
    ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
    ("(unbalanced", [("unbalanced", 1.1)]),
    ("\\(literal\\]", [("(literal]", 1.0)]),
    ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
    (
        "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
        [
            ("a ", 1.0),
            ("house", 1.573),
            (" ", 1.1),
            ("on", 1.0),
            (" a ", 1.1),
            ("hill", 0.55),
            (", sun, ", 1.1),
            ("sky", 1.4641),
            (".", 1.1),
        ],
    ),
    ("((double))", [("double", 1.21)]),
    ("[less]", [("less", 1 / 1.1)]),
    ("[[much less]]", [("much less", 1 / 1.21)]),
    ("(word:1.3)", [("word", 1.3)]),
    ("(word:0.5) rest", [("word", 0.5), (" rest", 1.0)]),
    ("((word:1.5))", [("word", 1.65)]),
    ("a \\(b\\) c", [("a (b) c", 1.0)]),
    ("stray ) and ] brackets", [("stray ) and ] brackets", 1.0)]),
    ("ratio 16:9 kept", [("ratio 16:9 kept", 1.0)]),
    ("", [("", 1.0)]),
]


@pytest.mark.parametrize(("prompt", "expected"), A1111_TABLE)
def test_weights_follow_a1111s_table(prompt: str, expected: list[tuple[str, float]]) -> None:
    pieces = parse_weights(prompt)
    assert [piece.text for piece in pieces] == [text for text, _ in expected]
    assert [piece.weight for piece in pieces] == pytest.approx([w for _, w in expected])


def test_break_and_lora_tags() -> None:
    assert parse_weights("a cat BREAK a dog") == [
        Piece("a cat", 1.0),
        Piece("", 1.0, is_break=True),
        Piece("a dog", 1.0),
    ]
    assert [p.weight for p in parse_weights("(a BREAK b)")] == pytest.approx([1.1, 1.1, 1.1])
    assert parse_weights("BREAKFAST")[0].text == "BREAKFAST"  # a word of its own only
    text, tags = extra_networks("<lora:water color:0.8> a fox, <lora:ink> <hypernet:x:1>")
    assert text == " a fox,  "
    assert [(t.kind, t.name, t.weight) for t in tags] == [
        ("lora", "water color", 0.8),
        ("lora", "ink", 1.0),
        ("hypernet", "x", 1.0),
    ]
    with pytest.raises(ValueError, match="<lora:x:heavy>"):
        extra_networks("<lora:x:heavy>")


IDS = TokenIds(start=100, end=101, pad=101, comma=7)


def numbered(text: str) -> list[int]:
    """A stand-in tokenizer: each word is one token, its number; "," is 7."""
    return [7 if word == "," else int(word) for word in text.split()]


def test_chunks_are_75_tokens_with_a1111s_padding_and_comma_backtrack() -> None:
    short = chunk_pieces([Piece("1 2 3", 1.5)], numbered, IDS)
    (chunk,) = short.chunks
    assert chunk.tokens[:5] == [100, 1, 2, 3, 101] and len(chunk.tokens) == CHUNK_TOKENS + 2
    assert chunk.weights[:5] == [1.0, 1.5, 1.5, 1.5, 1.0] and set(chunk.weights[5:]) == {1.0}
    assert (short.token_count, short.limit) == (3, 75)

    # 70 words, a comma, 10 more: the chunk is full at 75, the comma is 5 back → cut there
    words = " ".join(str(n) for n in range(10, 80)) + " , " + " ".join(["5"] * 10)
    first, second = chunk_pieces([Piece(words)], numbered, IDS).chunks
    assert first.tokens[70:73] == [79, 7, 101]  # ends after the comma, then padding
    assert second.tokens[1:11] == [5] * 10
    # no comma near the end: cut at 75 exactly
    plain = chunk_pieces([Piece(" ".join(["5"] * 80))], numbered, IDS)
    assert [len(c.tokens) for c in plain.chunks] == [77, 77]
    assert plain.chunks[1].tokens[1:6] == [5] * 5 and plain.token_count == 80
    assert plain.limit == 150
    # BREAK pads the current chunk and starts the next; it counts as a full chunk
    broken = chunk_pieces([Piece("1"), Piece("", is_break=True), Piece("2")], numbered, IDS)
    assert [c.tokens[1] for c in broken.chunks] == [1, 2] and broken.token_count == 76
    # a tokenizer whose padding differs from its end token (SD 2.x's): end, then padding
    padded = chunk_pieces([Piece("1")], numbered, replace(IDS, pad=0)).chunks[0]
    assert padded.tokens[:4] == [100, 1, 101, 0] and padded.tokens[-1] == 0


@pytest.fixture(scope="module")
def pipelines(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    folder = tmp_path_factory.mktemp("sdxl")
    build_tiny_sdxl(folder / "tiny-sdxl", folder / "tokenizer")
    return (
        StableDiffusionPipeline.from_pretrained(tiny_model),
        StableDiffusionXLPipeline.from_pretrained(folder / "tiny-sdxl"),
    )


def test_plain_prompts_encode_exactly_as_the_pipelines_do_and_weight_one_is_no_weight(
    pipelines,
) -> None:
    sd, sdxl = pipelines
    ours = PromptEncoder(sd).encode("a red fox, in snow", "blurry")
    theirs = sd.encode_prompt("a red fox, in snow", "cpu", 1, True, "blurry")
    assert torch.equal(ours.prompt_embeds, theirs[0])
    assert torch.equal(ours.negative_prompt_embeds, theirs[1])
    ours = PromptEncoder(sdxl).encode("a red fox, in snow", "")
    theirs = sdxl.encode_prompt(
        "a red fox, in snow",
        device="cpu",
        num_images_per_prompt=1,
        do_classifier_free_guidance=True,
    )
    for mine, expected in zip(
        (ours.prompt_embeds, ours.negative_prompt_embeds, ours.pooled, ours.negative_pooled),
        theirs,
        strict=True,
    ):
        assert torch.equal(mine, expected)
    for pipe in pipelines:
        encoder = PromptEncoder(pipe)
        plain = encoder.encode("a red fox", "").prompt_embeds
        assert torch.equal(encoder.encode("a (red:1.0) fox", "").prompt_embeds, plain)
        heavier = encoder.encode("a (red:1.5) fox", "").prompt_embeds
        assert not torch.equal(heavier, plain)
        # A1111's arithmetic: the weighted chunk keeps the plain chunk's mean (up to float
        # noise against the embeddings' size: the tiny encoders' means are ~1e-8, which a
        # CPU's summation order can round to exactly 0)
        assert torch.isfinite(heavier).all()
        noise = 1e-6 * plain.abs().mean().item()
        assert heavier.mean().item() == pytest.approx(plain.mean().item(), rel=1e-4, abs=noise)


def test_long_prompts_and_breaks_become_more_chunks_and_matching_negatives(pipelines) -> None:
    sd, _ = pipelines
    encoder = PromptEncoder(sd)
    long_prompt = ", ".join(f"detail {n}" for n in range(40))
    chunked = encoder.chunked(long_prompt)
    assert chunked.token_count > CHUNK_TOKENS and len(chunked.chunks) >= 2
    conditioning = encoder.encode(long_prompt, "blurry")
    width = 77 * len(chunked.chunks)
    assert conditioning.prompt_embeds.shape[1] == width
    assert conditioning.negative_prompt_embeds.shape[1] == width  # padded with empty chunks
    first_chunk = encoder.encode(long_prompt, "blurry").prompt_embeds[:, :77]
    alone = encoder.encode(long_prompt.split(", detail 3")[0], "").prompt_embeds
    assert first_chunk.shape == alone.shape
    assert encoder.chunked("a BREAK b").token_count == 76
    assert encoder.encode("a BREAK b", "").prompt_embeds.shape[1] == 154


@pytest.fixture(scope="module")
def networks_root(tmp_path_factory: pytest.TempPathFactory, pipelines) -> Path:
    sd, _ = pipelines
    root = tmp_path_factory.mktemp("networks")
    save_kohya_lora(sd.unet, root / "Lora" / "watercolor.safetensors", seed=1)
    save_kohya_lora(sd.unet, root / "Lora" / "styles" / "ink.safetensors", seed=2)
    width = sd.text_encoder.config.hidden_size
    save_embedding(width, root / "embeddings" / "fluffy-style.safetensors", seed=3)
    save_embedding(width + 1, root / "embeddings" / "other-model.safetensors", seed=4)
    return root


@pytest.fixture(scope="module")
def lora_service(base_settings: Settings, networks_root: Path) -> ImageService:
    settings = replace(base_settings, models_dir=networks_root)
    service = ImageService.start(settings, model="tiny", backend="local")
    assert service.backend is not None, service.load_error
    return service


def draw(service: ImageService, prompt: str, negative: str = "", **fields):
    request = GenerationRequest.create(
        prompt=prompt,
        negative_prompt=negative,
        num_inference_steps=2,
        width=64,
        height=64,
        seed=5,
        **fields,
    )
    result = service.generate(request, save=False)
    return np.asarray(result.images[0], dtype=np.int16), result.parameters[0]


def test_a_lora_applies_at_its_weight_only_for_its_request(
    lora_service: ImageService, networks_root: Path
) -> None:
    never, _ = draw(lora_service, "a fox in snow")
    at_zero, text = draw(lora_service, "a fox in snow <lora:watercolor:0>")
    assert np.array_equal(at_zero, never)  # weight 0 is no LoRA
    full, text = draw(lora_service, "a fox in snow <lora:watercolor:1>")
    assert not np.array_equal(full, never)
    half, _ = draw(lora_service, "a fox in snow <lora:watercolor:0.5>")
    assert not np.array_equal(half, full) and not np.array_equal(half, never)
    after, _ = draw(lora_service, "a fox in snow")
    assert np.array_equal(after, never)  # nothing leaks into the next request
    both, text = draw(lora_service, "a fox <lora:watercolor:0.7> <lora:ink:0.7>")
    path = networks_root / "Lora" / "watercolor.safetensors"
    raw = path.read_bytes()
    addnet = hashlib.sha256(raw[8 + int.from_bytes(raw[:8], "little") :]).hexdigest()[:12]
    hashes = parse_parameters(text).settings["Lora hashes"]
    assert hashes.startswith(f"watercolor: {addnet}, ink: ")
    assert "<lora:watercolor:0.7>" in parse_parameters(text).prompt  # the prompt as written


def test_an_unknown_lora_is_named_with_the_closest_ones(lora_service: ImageService) -> None:
    with pytest.raises(ValidationError) as refused:
        draw(lora_service, "a fox <lora:watercolour:0.8>")
    said = str(refused.value)
    assert "watercolour" in said and "watercolor" in said and refused.value.field == "prompt"
    plain, _ = draw(lora_service, "a fox in snow")  # and the service goes on
    assert plain.shape == (64, 64, 3)


def test_an_embedding_is_used_where_its_name_is_written(lora_service: ImageService) -> None:
    without, _ = draw(lora_service, "a fluffy cat")
    with_it, text = draw(lora_service, "a fluffy-style cat")
    assert not np.array_equal(without, with_it)
    assert parse_parameters(text).settings["TI hashes"].startswith("fluffy-style: ")
    negative, text = draw(lora_service, "a cat", "fluffy-style")
    plain_negative, _ = draw(lora_service, "a cat", "fluffy")
    assert not np.array_equal(negative, plain_negative)
    assert "TI hashes" in parse_parameters(text).settings


def test_the_a1111_client_lists_loras_and_embeddings_and_draws_with_a_lora(
    lora_service: ImageService,
) -> None:
    import webuiapi

    from tests.helpers import serving_app

    with serving_app(lora_service) as url:
        host, port = url.removeprefix("http://").split(":")
        api = webuiapi.WebUIApi(host=host, port=int(port), steps=2)
        names = [item["name"] for item in api.get_loras()]
        assert names == ["ink", "watercolor"]
        embeddings = api.get_embeddings()
        assert list(embeddings["loaded"]) == ["fluffy-style"]
        assert embeddings["loaded"]["fluffy-style"]["vectors"] == 2
        assert list(embeddings["skipped"]) == ["other-model"]
        plain = api.txt2img(prompt="a fox", width=64, height=64, seed=9)
        styled = api.txt2img(prompt="a fox <lora:watercolor:1>", width=64, height=64, seed=9)
        assert "Lora hashes" in styled.info["infotexts"][0]
        assert not np.array_equal(np.asarray(plain.image), np.asarray(styled.image))
        again = api.txt2img(prompt="a fox", width=64, height=64, seed=9)
        assert np.array_equal(np.asarray(plain.image), np.asarray(again.image))
        with pytest.raises(RuntimeError, match="watercolour"):
            api.txt2img(prompt="a fox <lora:watercolour>", width=64, height=64)


def test_a_lora_works_with_the_fast_paths_lcm_lora_and_leaves_it_as_it_was(
    lora_service: ImageService,
) -> None:
    before, _ = draw(lora_service, "a fox in snow")
    fast = {"scheduler": "lcm", "guidance_scale": 1.0}
    alone, _ = draw(lora_service, "a fox", **fast)
    with_lora, text = draw(lora_service, "a fox <lora:watercolor:1>", **fast)
    assert not np.array_equal(alone, with_lora)
    assert parse_parameters(text).settings["Lora hashes"].startswith("watercolor: ")
    assert np.array_equal(draw(lora_service, "a fox", **fast)[0], alone)  # LCM-LoRA only again
    after, _ = draw(lora_service, "a fox in snow")
    assert np.array_equal(after, before)  # and neither is on for the next plain request
