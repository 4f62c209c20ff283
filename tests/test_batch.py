"""``huatu generate --from-file``: the parser and resume rule, and the command itself on the
tiny model: once as a real subprocess, the other cases in process through click's
``CliRunner`` (:func:`tests.helpers.invoke_huatu`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from huatu import batch
from huatu.batch import BatchFileError, find_done, parse_batch, read_batch
from huatu.history import write_png
from huatu.metadata import format_parameters, parse_parameters, read_parameters
from huatu.request import GenerationRequest
from tests.helpers import invoke_huatu, run_huatu

FAST = ("--model", "tiny", "--width", "64", "--height", "64", "--steps", "2")

# -- the parser ---------------------------------------------------------------------------


def test_plain_text_skips_blanks_and_comments_and_keeps_line_numbers():
    text = "\ufeff# my prompts\r\n a red fox \r\n\r\n   # indented comment\nblue bird\n\n"
    items = parse_batch(text, name="p.txt", defaults={"width": 64, "seed": None})
    assert [(item.line, item.request.prompt) for item in items] == [
        (2, "a red fox"),
        (5, "blue bird"),
    ]
    assert all(item.request.width == 64 and item.request.seed == -1 for item in items)


def test_jsonl_lines_override_the_defaults_and_accept_short_names():
    text = "\n".join(
        [
            '{"prompt": "a", "steps": 3, "guidance": 5, "width": 128, "seed": 7}',
            "# a comment",
            '{"prompt": "b", "num_inference_steps": 4, "negative_prompt": "rain", "seed": null}',
            '{"prompt": "c", "num_images": 2, "scheduler": "ddim", "height": 96}',
        ]
    )
    defaults = {"num_inference_steps": 2, "width": 64, "height": 64, "seed": 5}
    a, b, c = parse_batch(text, defaults=defaults)  # detected from the first line
    assert (a.line, b.line, c.line) == (1, 3, 4)
    assert a.request == GenerationRequest.create(
        prompt="a", num_inference_steps=3, guidance_scale=5.0, width=128, height=64, seed=7
    )
    assert (b.request.num_inference_steps, b.request.negative_prompt, b.request.seed) == (
        4,
        "rain",
        5,  # null: the default
    )
    assert (c.request.num_images, c.request.scheduler, c.request.height) == (2, "ddim", 96)


def test_a_bad_line_names_file_line_field_and_value():
    text = '{"prompt": "ok"}\n{"prompt": "too wide", "width": 65}\n'
    with pytest.raises(BatchFileError) as caught:
        parse_batch(text, name="prompts.jsonl")
    message = str(caught.value)
    assert message.startswith("prompts.jsonl line 2: `width` must be an integer")
    assert "65" in message and caught.value.line == 2 and caught.value.field == "width"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"prompt": "a"}\n\n{"prompt": "b",\n', r"p\.jsonl line 3: is not valid JSON"),
        ('{"prompt": "a"}\n["b"]\n', r"line 2: must be a JSON object"),
        ('{"prompt": "a", "colour": "red"}\n', r"line 1: unknown field 'colour'"),
        ('{"prompt": "a", "steps": 3, "num_inference_steps": 4}\n', r"line 1: gives `num_inf"),
        ('{"width": 64}\n', r"line 1: has no `prompt`"),
        ('{"prompt": 5}\n', r"line 1: `prompt` must be text"),
        ("# only a comment\n\n", r"^p\.jsonl: has no prompts"),
    ],
)
def test_broken_jsonl_lines_are_named(text: str, expected: str):
    with pytest.raises(BatchFileError, match=expected):
        parse_batch(text, name="p.jsonl", jsonl=True)


def test_plain_text_prompt_too_long_is_named():
    with pytest.raises(BatchFileError, match=r"^p line 2: `prompt` must be at most 1,000"):
        parse_batch("fine\n" + "x" * 1001, name="p")


def test_jsonl_suffix_forces_json(tmp_path: Path):
    path = tmp_path / "p.jsonl"
    path.write_text("just words\n", encoding="utf-8")
    with pytest.raises(BatchFileError, match=r"p\.jsonl line 1: is not valid JSON"):
        read_batch(path)
    path.write_bytes(b"ok\n\xff\xfe\n")
    with pytest.raises(BatchFileError, match="line 2: is not UTF-8 text"):
        read_batch(path)


def test_keys_are_stable_and_tell_repeated_lines_apart():
    first = parse_batch("a cat\na dog\na cat\n", model="tiny")
    moved = parse_batch("# new comment\na dog\n\na cat\na new line\na cat\n", model="tiny")
    assert len({item.key for item in first}) == 3  # the two "a cat" lines differ
    assert {item.key for item in first} < {item.key for item in moved}
    assert first[0].key == moved[1].key  # same line, moved: same key (seed -1 included)
    other_model = parse_batch("a cat\n", model="some/model")
    other_steps = parse_batch("a cat\n", defaults={"num_inference_steps": 3}, model="tiny")
    assert first[0].key not in {other_model[0].key, other_steps[0].key}


def _fake_png(folder: Path, name: str, key: str, run: str, seed: int) -> Path:
    request = GenerationRequest.create(prompt="p", width=64, height=64)
    text = format_parameters(
        request, seed=seed, sampler="DDIM", model="tiny", extra=batch.batch_metadata(key, run)
    )
    return write_png(Image.new("RGB", (8, 8)), folder / name, text)


def test_find_done_wants_every_image_of_one_run(tmp_path: Path):
    one, two = parse_batch('{"prompt": "a"}\n{"prompt": "b", "num_images": 2}\n')
    assert find_done(tmp_path / "missing", [one, two]) == {}
    a = _fake_png(tmp_path, "a.png", one.key, "r1", 5)
    b_partial = _fake_png(tmp_path, "b0.png", two.key, "r1", 10)  # killed after one image
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (tmp_path / "plain.png").write_bytes((tmp_path / "a.png").read_bytes()[:8])
    _fake_png(tmp_path, "other.png", "0123456789abcdef", "r1", 1)  # another batch
    assert find_done(tmp_path, [one, two]) == {one.key: [a.absolute()]}
    b2 = _fake_png(tmp_path, "b2.png", two.key, "r2", 21)
    b1 = _fake_png(tmp_path, "b1.png", two.key, "r2", 20)
    done = find_done(tmp_path, [one, two])
    assert done[two.key] == [b1.absolute(), b2.absolute()]  # the complete run, by seed
    assert b_partial.absolute() not in done[two.key]


def test_a_failing_line_is_reported_and_the_others_go_on(cli_env, tmp_path: Path, monkeypatch):
    """Generation-time failures (hosted errors, safety checker …) keep the batch going: the
    real tiny service, whose generation of one line fails as a hosted call can."""
    from huatu.errors import HostedResponseError
    from huatu.service import ImageService

    failed = HostedResponseError("hosted_empty_body")
    generate = ImageService.generate

    def failing_on_boom(self, request, **options):
        if "boom" in request.prompt:
            raise failed
        return generate(self, request, **options)

    monkeypatch.setattr(ImageService, "generate", failing_on_boom)
    prompts = tmp_path / "p.txt"
    prompts.write_text("one\nboom\nthree\n", encoding="utf-8")
    out = tmp_path / "out"
    small = ("--model", "tiny", "--width", "64", "--height", "64", "--steps", "1")
    result = invoke_huatu(
        "generate",
        "--from-file",
        str(prompts),
        *small,
        "--out",
        str(out),
        env=cli_env,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    made = [Path(line) for line in result.stdout.splitlines()]
    assert len(made) == 2 and all(path.parent == out and path.is_file() for path in made)
    assert [read_parameters(path).split("\n")[0] for path in made] == ["one", "three"]
    assert f"line 2 failed: {failed}" in result.stderr
    assert "1 of 3 prompt(s) failed (line 2)" in result.stderr


# -- the command, for real ----------------------------------------------------------------


def fields_of(path: Path) -> dict:
    return parse_parameters(read_parameters(path)).to_request_fields()


def test_plain_text_file_makes_one_image_per_prompt(cli_env, tmp_path: Path):
    """The real subprocess run of ``--from-file``."""
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# three foxes\na red fox\n\na blue bird\na red fox\n", encoding="utf-8")
    done = run_huatu("generate", "--from-file", str(prompts), *FAST, env=cli_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    paths = [Path(line) for line in done.stdout.splitlines()]
    assert len(set(paths)) == 3 and all(path.is_file() for path in paths)
    assert [fields_of(path)["prompt"] for path in paths] == [
        "a red fox",
        "a blue bird",
        "a red fox",
    ]
    assert "[2/3] line 4: a blue bird" in done.stderr
    # one bar over the whole batch, ending full at the last step of the last prompt
    assert "] 1/3 · step 1/" in done.stderr
    assert "[" + "█" * 24 + "] 3/3 · step" in done.stderr
    # no --out: the default dated folder under HUATU_OUTPUTS
    assert all(path.parent.parent == tmp_path / "outputs" for path in paths)


def test_jsonl_lines_get_their_own_settings(cli_env, tmp_path: Path):
    prompts = tmp_path / "prompts.jsonl"
    lines = [
        {"prompt": "wide", "width": 128, "seed": 7},
        {"prompt": "pair", "num_images": 2, "seed": 100, "steps": 3, "scheduler": "ddim"},
        {"prompt": "plain"},
    ]
    prompts.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    out = tmp_path / "out"
    args = ("--from-file", str(prompts), *FAST, "--seed", "5", "--out", str(out))
    done = invoke_huatu("generate", *args, env=cli_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    paths = [Path(line) for line in done.stdout.splitlines()]
    assert [path.parent for path in paths] == [out.absolute()] * 4
    sizes = [Image.open(path).size for path in paths]
    assert sizes == [(128, 64), (64, 64), (64, 64), (64, 64)]
    found = [fields_of(path) for path in paths]
    assert [(f["prompt"], f["seed"]) for f in found] == [
        ("wide", 7),
        ("pair", 100),
        ("pair", 101),
        ("plain", 5),
    ]
    assert found[1]["num_inference_steps"] == 3 and found[1]["scheduler"] == "ddim"
    assert found[3]["num_inference_steps"] == 2


def test_a_bad_line_stops_everything_before_it_starts(cli_env, tmp_path: Path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "fine"}\n{"prompt": "bad", "width": 65}\n', encoding="utf-8")
    out = tmp_path / "out"
    args = ("--from-file", str(prompts), *FAST, "--out", str(out))
    done = invoke_huatu("generate", *args, env=cli_env, cwd=tmp_path)
    assert done.returncode == 2
    assert "prompts.jsonl line 2: `width` must be an integer" in done.stderr
    assert "but is 65." in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == "" and not out.exists() and "loading" not in done.stderr


def test_prompt_and_file_are_either_or(cli_env, tmp_path: Path):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a cat\n", encoding="utf-8")
    both = invoke_huatu("generate", "a dog", "--from-file", str(prompts), env=cli_env, cwd=tmp_path)
    neither = invoke_huatu("generate", "--model", "tiny", env=cli_env, cwd=tmp_path)
    bad_option = invoke_huatu(
        "generate", "--from-file", str(prompts), "--steps", "0", env=cli_env, cwd=tmp_path
    )
    for done in (both, neither):
        assert done.returncode == 2 and "Give either a PROMPT or --from-file FILE" in done.stderr
    assert bad_option.returncode == 2 and "`num_inference_steps` must be" in bad_option.stderr


def test_a_rerun_with_out_resumes(cli_env, tmp_path: Path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a cat\na dog\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ("generate", "--from-file", str(prompts), *FAST, "--num-images", "2", "--out", str(out))

    first = invoke_huatu(*args, env=cli_env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    paths = [Path(line) for line in first.stdout.splitlines()]
    assert len(paths) == 4
    mtimes = {path: path.stat().st_mtime_ns for path in paths}

    again = invoke_huatu(*args, env=cli_env, cwd=tmp_path)  # everything done: no model loaded
    assert again.returncode == 0, again.stderr
    assert [Path(line) for line in again.stdout.splitlines()] == paths
    assert "skipping 2 already done" in again.stderr and "loading" not in again.stderr
    assert {path: path.stat().st_mtime_ns for path in paths} == mtimes

    paths[3].unlink()  # "a dog" lost one of its two images: it is made again, in full
    with prompts.open("a", encoding="utf-8") as handle:
        handle.write("a bird\n")  # and a new line: made; "a cat" stays as it is
    third = invoke_huatu(*args, env=cli_env, cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    listed = [Path(line) for line in third.stdout.splitlines()]
    assert listed[:2] == paths[:2] and len(listed) == 6 and paths[2] not in listed
    assert "skipping 1 already done" in third.stderr
    assert "[1/2] line 2: a dog" in third.stderr and "[2/2] line 3: a bird" in third.stderr
    made = [fields_of(path)["prompt"] for path in listed[2:]]
    assert made == ["a dog", "a dog", "a bird", "a bird"]
    assert all(path.stat().st_mtime_ns == mtimes[path] for path in paths[:3])
    assert len(list(out.glob("*.png"))) == 7  # 6 listed + the dog's orphan from the first run


def test_the_progress_bar_covers_the_whole_batch():
    from huatu.cli.generate import BAR_WIDTH, progress_bar

    assert progress_bar(0) == "[" + "░" * BAR_WIDTH + "]"
    assert progress_bar(1) == "[" + "█" * BAR_WIDTH + "]"
    assert progress_bar(0.5).count("█") == BAR_WIDTH // 2
    assert progress_bar(7) == progress_bar(1) and progress_bar(-1) == progress_bar(0)


def test_batch_keys_written_before_a_field_existed_stay_valid():
    """A resume finds images an earlier huatu made: a request field added since (``mode``)
    changes a line's key only when it is not at its default."""
    request = GenerationRequest.create(prompt="a dog", seed=3, num_inference_steps=25)
    assert batch.batch_key(request, model="tiny") == "d51def37dbb81696"  # as huatu 0.1.0 wrote
    assert batch.batch_key(request, model="tiny", occurrence=1) != "d51def37dbb81696"
