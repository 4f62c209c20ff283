"""The benchmark's builders and report, and the quality guard of huatu's default precision.

No timing is asserted here: timings belong to ``make bench``, never to CI.

Quality measure used throughout: relative L2 error, ‖x − x_fp32‖₂ / ‖x_fp32‖₂, of one UNet
forward (noise prediction) against the fp32 result on the same inputs. The issue's guard is
at most 2% on the benchmark model; the tiny model is held to the same bound.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from huatu.bench import architecture, cases, report, run  # noqa: E402

UNET_REL_L2_MAX = 0.02  # the issue's bound; the tiny model measures 0.012
# Images from the full default path (20 steps, CFG, VAE decode) drift further than one step:
# mean absolute pixel difference on the [0, 1] scale, bf16 vs fp32, tiny model.
IMAGE_MEAN_ABS_MAX = 0.01  # measured 0.002 (torch 2.13, AVX512-BF16)


def test_meta_components_have_sd15_sizes() -> None:
    components = architecture.meta_components()
    architecture.check_param_counts(components)  # within 1% of SD 1.5's
    counts = {name: architecture.count_params(module) for name, module in components.items()}
    assert abs(counts["unet"] - 859.5e6) < 0.01 * 859.5e6
    assert abs(counts["vae"] - 83.7e6) < 0.01 * 83.7e6
    assert abs(counts["text_encoder"] - 123.1e6) < 0.01 * 123.1e6
    assert counts["taesd"] < 3e6  # TAESD: about 2.4M
    unet = components["unet"]
    assert tuple(unet.config.block_out_channels) == (320, 640, 1280, 1280)
    assert unet.config.cross_attention_dim == 768
    assert components["vae"].config.scaling_factor == pytest.approx(0.18215)
    assert components["text_encoder"].config.hidden_act == "quick_gelu"
    assert all(param.is_meta for param in unet.parameters())


def test_check_param_counts_rejects_a_wrong_architecture() -> None:
    components = architecture.meta_components()
    components["unet"] = components["taesd"]
    with pytest.raises(AssertionError, match="unet"):
        architecture.check_param_counts(components)


def test_tokenizer_pads_to_77_with_ids_inside_the_vocabulary(tmp_path: Path) -> None:
    tokenizer = architecture.build_tokenizer(tmp_path)
    assert len(tokenizer) == architecture.TEXT_CONFIG["vocab_size"]
    ids = tokenizer(
        ["a cat", "画一只猫 " * 40], padding="max_length", max_length=77, truncation=True
    ).input_ids
    assert [len(row) for row in ids] == [77, 77]
    assert max(max(row) for row in ids) < architecture.TEXT_CONFIG["vocab_size"]
    assert ids[0][0] == tokenizer.bos_token_id == 49406
    assert tokenizer.eos_token_id == 49407


def test_materialize_is_seeded_and_bf16_is_fp32_rounded() -> None:
    from accelerate import init_empty_weights

    def make(dtype: torch.dtype, seed: int) -> torch.nn.Module:
        with init_empty_weights():
            module = torch.nn.Sequential(
                torch.nn.Linear(64, 32), torch.nn.LayerNorm(32), torch.nn.Conv2d(4, 8, 3)
            )
        return architecture.materialize(module, dtype, seed)

    first, again, other = make(torch.float32, 1), make(torch.float32, 1), make(torch.float32, 2)
    half = make(torch.bfloat16, 1)
    for a, b, c, h in zip(
        first.parameters(), again.parameters(), other.parameters(), half.parameters(), strict=True
    ):
        assert torch.equal(a, b)
        assert torch.equal(a.bfloat16(), h)
        if a.ndim >= 2:
            assert not torch.equal(a, c)
            assert a.std().item() == pytest.approx(a[0].numel() ** -0.5, rel=0.2)
    assert torch.equal(first[1].weight, torch.ones(32))
    assert torch.equal(first[0].bias, torch.zeros(32))
    assert not any(param.requires_grad for param in first.parameters())


FAKE_RESULT = {
    "machine": {"cpu": "Test CPU", "cores": 2},
    "cases": [
        {
            "name": "baseline",
            "unet_cfg_step_s": 7.0,
            "vae_decode_s": 10.0,
            "text_encode_s": 0.2,
            "image_20_steps_s": 150.2,
            "peak_rss_gib": 4.05,
            "estimated": True,
            "estimated_fields": ["image_20_steps_s"],
        },
        {
            "name": "huatu-default",
            "unet_cfg_step_s": 1.4,
            "vae_decode_s": 2.0,
            "image_20_steps_s": 30.04,
            "peak_rss_gib": 3.1,
            "unet_rel_l2_vs_fp32": 0.0081,
        },
        {"name": "huatu-fast", "unet_step_s": 0.7, "vae_decode_s": 0.1, "image_s": 3.2},
    ],
}


def test_speedups_are_baseline_over_default() -> None:
    assert report.speedups(FAKE_RESULT["cases"]) == {
        "unet_cfg_step": 5.0,
        "image_20_steps": 5.0,
        "image_20_steps_caching": None,  # no caching case in this result
    }
    cached = {"name": "huatu-default+caching", "image_20_steps_s": 15.02}
    assert report.speedups([*FAKE_RESULT["cases"], cached])["image_20_steps_caching"] == 10.0
    assert report.speedups([{"name": "baseline", "unet_cfg_step_s": 1.0}]) == {
        "unet_cfg_step": None,
        "image_20_steps": None,
        "image_20_steps_caching": None,
    }


def test_table_and_json_writer(tmp_path: Path) -> None:
    result = {**FAKE_RESULT, "speedup": report.speedups(FAKE_RESULT["cases"])}
    table = report.format_table(result)
    lines = table.splitlines()
    assert lines[0].startswith("| case | UNet step+CFG s |")
    assert "| baseline | 7.00 |" in table
    assert "~150.20" in table  # estimated values are marked
    assert "0.0081" in table
    assert "| huatu-fast | — | 0.70 | 0.10 |" in table
    assert "unet_cfg_step 5.0×" in table
    assert "compile s" not in table  # columns nobody filled are left out
    out = report.write_result(result, tmp_path / "results" / "latest.json")
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved == result
    assert [case["name"] for case in saved["cases"]][:2] == ["baseline", "huatu-default"]


def test_each_cpu_class_has_its_own_result_file_and_a_row_even_when_not_measured(
    tmp_path: Path,
) -> None:
    from huatu.bench.classes import classes_table, cpu_class, write_class_result

    assert cpu_class({"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}) == "amx"
    assert cpu_class({"avx2", "avx512f", "avx512_bf16"}) == "avx512bf16"
    assert cpu_class({"avx2", "avx512f"}) == "avx2" and cpu_class({"sse4_2"}) == "other"
    (tmp_path / "amx.json").write_text("{}")  # another class's file: left alone
    machine = {**FAKE_RESULT["machine"], "class": "avx2", "date": "2026-12-03T10:00:00+00:00"}
    path = write_class_result({**FAKE_RESULT, "machine": machine}, tmp_path)
    assert path == tmp_path / "avx2.json" and (tmp_path / "amx.json").read_text() == "{}"
    (tmp_path / "amx.json").unlink()
    table = classes_table(tmp_path).splitlines()
    assert table[2].startswith("| AMX-BF16") and "not measured" in table[2]
    assert "not measured" in table[3]  # AVX512-BF16: no file
    # the baseline's image was estimated (quick-style): its figure and ratio say so; no
    # caching or one-step case in this result; huatu-fast is the LCM 4-step Fast image
    assert (
        "| 2026-12-03 (full) | Test CPU, 2 cores | ~150.2 | 30.0 | ~5.00× | — | — | — | 3.2 |"
        in table[4]
    )
    cached = {"name": "huatu-default+caching", "image_20_steps_s": 20.0}
    one_step = {"name": "huatu-fast-1step", "image_s": 5.46}
    result = {**FAKE_RESULT, "cases": [*FAKE_RESULT["cases"], cached, one_step]}
    write_class_result({**result, "machine": machine}, tmp_path)
    assert "| 30.0 | ~5.00× | 20.0 | ~7.51× | 5.5 | 3.2 |" in classes_table(tmp_path)


def test_case_specs_name_the_issue_cases() -> None:
    from huatu.device import choose_device

    names = [spec.name for spec in cases.case_specs(compile_unet=True)]
    assert names[:3] == ["baseline", "huatu-default", "huatu-default+caching"]
    assert names[-2:] == ["huatu-fast", "huatu-fast-1step"]
    # engine candidates in this CPU's precision: bf16 is emulated (slow) without support
    label = "bf16" if choose_device("cpu").dtype == "bfloat16" else "fp32"
    assert {f"{label}+channels_last", f"{label}+channels_last+compile"} <= set(names)
    assert f"{label}+channels_last+compile" not in [s.name for s in cases.case_specs(False)]
    quick = [spec.name for spec in cases.case_specs(False, candidates=False)]
    assert quick == [
        "baseline",
        "huatu-default",
        "huatu-default+caching",
        "huatu-fast",
        "huatu-fast-1step",
    ]
    specs = {spec.name: spec for spec in cases.case_specs(False)}
    assert specs["baseline"].dtype == "float32"
    assert specs["huatu-default+caching"].step_cache and not specs["huatu-default"].step_cache
    one_step = specs["huatu-fast-1step"]
    assert (one_step.model, one_step.fast_steps, one_step.fast) == ("sdxs", 1, True)


def test_sdxs_architecture_has_the_published_size() -> None:
    """SDXS-512 (arXiv:2403.16627): a 0.32 B UNet without a mid block, reading SD 2.1's text
    encoder (1024 wide); no VAE of its own (its decoder has TAESD's architecture)."""
    components = architecture.meta_components("sdxs")
    architecture.check_param_counts(components, model="sdxs")
    assert "vae" not in components and components["unet"].mid_block is None
    assert components["unet"].config.cross_attention_dim == 1024
    assert abs(architecture.count_params(components["unet"]) - 0.32e9) < 0.01 * 0.32e9
    with pytest.raises(AssertionError, match="unet"):
        architecture.check_param_counts(architecture.meta_components(), model="sdxs")


def _unet_step(unet, latents, embeddings):
    with torch.inference_mode():
        return unet(
            latents, torch.tensor(981), encoder_hidden_states=embeddings, return_dict=False
        )[0].float()


@pytest.fixture(scope="module")
def tiny_pipes(tiny_model: Path):
    """The session's tiny model in fp32 and in bf16 (emulated on CPUs without bf16): these
    tests are about the bf16 path, so they set the dtype themselves."""
    from diffusers import StableDiffusionPipeline

    fp32 = StableDiffusionPipeline.from_pretrained(tiny_model, dtype=torch.float32)
    bf16 = StableDiffusionPipeline.from_pretrained(tiny_model, dtype=torch.bfloat16)
    for pipe in (fp32, bf16):
        pipe.set_progress_bar_config(disable=True)
    return fp32, bf16


@pytest.mark.parametrize("channels_last", [False, True], ids=["bf16", "bf16+channels_last"])
def test_tiny_unet_step_bf16_close_to_fp32(tiny_pipes, channels_last: bool) -> None:
    fp32, bf16 = tiny_pipes
    generator = torch.Generator("cpu").manual_seed(0)
    latents = torch.randn(2, 4, 64, 64, generator=generator)
    embeddings = torch.randn(2, 77, fp32.unet.config.cross_attention_dim, generator=generator)
    reference = _unet_step(fp32.unet, latents, embeddings)
    unet, half_latents = bf16.unet, latents.bfloat16()
    if channels_last:
        unet = unet.to(memory_format=torch.channels_last)
        half_latents = half_latents.to(memory_format=torch.channels_last)
    try:
        got = _unet_step(unet, half_latents, embeddings.bfloat16())
    finally:
        unet.to(memory_format=torch.contiguous_format)
    assert cases.relative_l2(got, reference) <= UNET_REL_L2_MAX


def test_tiny_image_bf16_close_to_fp32(tiny_pipes) -> None:
    import numpy as np

    images = []
    for pipe in tiny_pipes:
        images.append(
            pipe(
                "a lighthouse",
                num_inference_steps=20,
                guidance_scale=7.0,
                height=64,
                width=64,
                generator=torch.Generator("cpu").manual_seed(0),
                output_type="np",
            ).images[0]
        )
    reference, got = (np.asarray(image, dtype=np.float32) for image in images)
    assert float(np.abs(got - reference).mean()) <= IMAGE_MEAN_ABS_MAX


@pytest.mark.skipif(
    not os.environ.get("HUATU_SLOW_TESTS"),
    reason="builds the 860M-parameter UNet twice (30-60 s, 5 GiB); set HUATU_SLOW_TESTS=1",
)
def test_sd15_unet_step_bf16_close_to_fp32_at_8x8() -> None:
    """The issue's guard on the benchmark architecture, at 8×8 latents (64×64 pixels) so it
    runs in seconds; ``make bench`` reports the same measure at 64×64 latents."""
    from diffusers import UNet2DConditionModel

    unets = []
    for dtype in (torch.float32, torch.bfloat16):
        from accelerate import init_empty_weights

        with init_empty_weights():
            unet = UNet2DConditionModel(**architecture.UNET_CONFIG)
        unets.append(architecture.materialize(unet, dtype, architecture.BENCH_SEED))
    generator = torch.Generator("cpu").manual_seed(0)
    latents = torch.randn(2, 4, 8, 8, generator=generator)
    embeddings = torch.randn(2, 77, 768, generator=generator)
    reference = _unet_step(unets[0], latents, embeddings)
    del unets[0]
    unet = unets[0].to(memory_format=torch.channels_last)
    got = _unet_step(unet, latents.bfloat16(), embeddings.bfloat16())
    assert cases.relative_l2(got, reference) <= UNET_REL_L2_MAX


def test_table_reports_batching_and_the_app_cost() -> None:
    batching = {
        "case": "huatu-default",
        "images": 4,
        "unet_cfg_step_per_image_one_by_one_s": 4.1,
        "unet_cfg_step_per_image_batched_s": 3.9,
        "images_per_minute_gain": 1.05,
    }
    app = {
        "overhead_ms": 21.0,
        "pipeline_direct_ms": 30.0,
        "through_app_ms": 51.0,
        "first_request_s": 4.2,
        "gradio_call_without_model_ms": 15.0,
    }
    table = report.format_table({**FAKE_RESULT, "batching": batching, "app": app})
    assert "4.10 s one by one, 3.90 s batched → 1.05× images per minute" in table
    assert "21 ms per request over the bare pipeline (30 → 51 ms; a Gradio call that" in table
    assert "runs no model: 15 ms); first image 4.2 s" in table


def test_table_reports_the_ray_serve_figures() -> None:
    ray = {
        "steps": 8,
        "size": 128,
        "clients": 4,
        "local_ms": 150.0,
        "ray_ms": 190.0,
        "added_latency_ms": 40.0,
        "images_per_minute": {"local": 300.0, "ray_1": 200.0, "ray_2": 330.0},
        "two_over_one_replica": 1.65,
    }
    table = report.format_table({**FAKE_RESULT, "ray": ray})
    assert "40 ms added per request (150 → 190 ms)" in table
    assert "local 300, 1 replica 200, 2 replicas 330 (1.65× one replica)" in table


def test_batching_measure_runs_on_a_real_unet(tiny_pipes, monkeypatch) -> None:
    """The measurement itself (no timing threshold: only that it measures what it says), on
    the tiny UNet at 8x8 latents: the same code as at the benchmark's 64x64, in a second
    instead of a minute on a CPU without bf16."""
    monkeypatch.setattr(cases, "LATENT", 8)
    pipe = tiny_pipes[1]
    spec = cases.CaseSpec("huatu-default", "bfloat16")
    width = pipe.unet.config.cross_attention_dim
    runner = cases.CaseRunner(spec, pipe, torch.zeros(2, 77, width))
    batched = runner.unet_step_batched(3)
    assert batched.shape == (6, 4, 8, 8)  # 3 images, each with its unconditional twin
    result = run.measure_batching(runner, repeats=2, images=3)
    assert result["images"] == 3 and result["case"] == "huatu-default"
    assert result["unet_cfg_step_per_image_one_by_one_s"] >= 0
    assert result["images_per_minute_gain"] > 0


def test_step_cache_measure_runs_full_then_cached_steps_and_reports_them(
    tiny_pipes, monkeypatch
) -> None:
    """The step-caching section on the tiny UNet at 8x8 latents (no timing threshold): one
    full and one cached step per repeat, the UNet left as it was, the image figures computed
    from the steps and marked estimated; and its line in the table."""
    from huatu.bench.step_cache import measure_step_cache

    monkeypatch.setattr(cases, "LATENT", 8)
    pipe = tiny_pipes[0]
    spec = cases.CaseSpec("huatu-default", "float32")
    width = pipe.unet.config.cross_attention_dim
    runner = cases.CaseRunner(spec, pipe, torch.zeros(2, 77, width))
    row = {"text_encode_s": 0.5, "vae_decode_s": 2.0}
    result = measure_step_cache(runner, row, repeats=2, steps=20)
    assert "forward" not in vars(pipe.unet)
    assert result["interval"] == 3 and result["estimated"] is True
    full, cached = result["unet_cfg_step_s"], result["cached_step_s"]
    assert result["image_cached_s"] == pytest.approx(2.5 + 7 * full + 13 * cached, abs=0.02)
    table = report.format_table({**FAKE_RESULT, "step_cache": result})
    assert "step caching (DeepCache, interval 3, huatu-default): UNet CFG step" in table


def test_app_overhead_measure_serves_and_calls_for_real(base_settings, monkeypatch) -> None:
    from huatu.bench.app import measure_overhead

    monkeypatch.setenv("HUATU_CACHE", str(base_settings.cache_dir))
    result = measure_overhead(repeats=2, warmup=1)
    assert result["through_app_ms"] > 0 and result["pipeline_direct_ms"] > 0
    assert result["gradio_call_without_model_ms"] > 0
    # the figures are not rounded here (the report does that), so this holds exactly
    assert result["overhead_ms"] == result["through_app_ms"] - result["pipeline_direct_ms"]


def test_editing_memory_is_measured_in_fresh_processes():
    """The measurement runs in a fresh process (its ratio is a benchmark figure, not asserted
    here; the run without editing is the same child with less to do)."""
    from huatu.bench.editing_memory import measure

    edited = measure("tiny", True)
    assert edited and edited > 0.05


def test_a_switch_is_measured_against_one_load(monkeypatch, cache_dir):
    """The switch measurement's child runs (in this process: its figure is not asserted)."""
    from huatu.bench.switch_memory import switch_child

    monkeypatch.setenv("HUATU_CACHE", str(cache_dir))
    found = switch_child("tiny", switch=True)
    assert found["model"] == "b" and found["peak_rss_gib"] > 0.05


def test_the_gpu_bench_says_plainly_when_there_is_no_gpu(capsys, tmp_path) -> None:
    from huatu.bench import gpu

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is here: make bench-gpu runs for real")
    assert gpu.main(["--out", str(tmp_path / "gpu.json")]) == 2
    assert (
        capsys.readouterr().out.strip()
        == "make bench-gpu needs a CUDA GPU, and torch sees none here."
    )
    assert not (tmp_path / "gpu.json").exists()


def test_the_gpu_bench_measures_a_pipeline_and_huatus_paths_on_the_cpu(tiny_pipes, tmp_path):
    """The GPU script's measurements, run on the CPU with the tiny model (no timing
    threshold): iterations per second from the CFG step, an end-to-end image, and huatu's
    local backend with its default, --low-memory and step-caching paths."""
    from huatu.bench import gpu

    measured = gpu.measure_pipeline(tiny_pipes[0], device="cpu", size=64, steps=2, repeats=1)
    assert measured["iterations_per_s"] == pytest.approx(1 / measured["unet_cfg_step_s"], rel=0.01)
    assert measured["image_2_steps_s"] > 0
    paths = gpu.huatu_paths("cpu", tmp_path)
    assert set(paths) == {"default", "low_memory", "step_cache"}
    assert all(found.get("plan", "").startswith("cpu ") for found in paths.values()), paths


def test_the_gpu_bench_times_a_burst_one_by_one_and_batched(cache_dir):
    """The batching figure of ``make bench-gpu``, on the CPU with the tiny model: both ways
    ran the whole burst (the batches themselves are tested in tests/test_batching.py)."""
    from huatu.bench import gpu

    found = gpu.batching_gain("tiny", "cpu", cache_dir, size=64, steps=2, burst=5)
    assert found["requests"] == 5
    for way in ("one_by_one", "batched"):
        assert found[way]["images"] == 5  # every request of the burst got its image
        assert found[way]["images_per_minute"] == pytest.approx(5 * 60 / found[way]["s"], rel=0.01)
    assert found["gain"] > 0
