"""Measure plain diffusers against huatu's local backend on the SD 1.5 architecture.

All cases run in one process, interleaved (one round over every case per repeat) so that
machine drift hits them alike. Peak memory is measured per case in a fresh subprocess (load,
one UNet step, one decode), where nothing else has touched the heap.

Cases:
    baseline: plain diffusers, fp32, eager, default attention processor.
    huatu-default: what huatu's local backend does on this machine today (its device plan's
        dtype: bf16 on CPUs with AVX512-BF16/AMX, fp32 elsewhere).
    bf16+channels_last, bf16+channels_last+compile: candidates for huatu-default.
    huatu-fast: the Fast path: few steps, guidance off (batch 1), TAESD decode.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path("bench/results/latest.json")
PROMPT = "a watercolor painting of a lighthouse on a cliff at sunset, highly detailed"
SIZE = 512
LATENT = SIZE // 8
STEPS = 20
GUIDANCE = 7.0
FAST_STEPS = 4
IMAGE_SCHEDULER = "dpmpp_2m_karras"  # huatu's default sampler; 20 UNet calls for 20 steps
# In quick mode an end-to-end image is run for huatu-default, huatu-fast, and the cases whose
# estimate is at most this long; the others are estimated.
QUICK_IMAGE_LIMIT_S = 45.0
# Interleaving several models' conv/matmul shapes overflows oneDNN's default primitive cache
# (1024 entries): kernels would be re-generated on every call and every case look slower.
ONEDNN_CACHE = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16384")
FIELDS = (
    ("unet_cfg_step_s", "UNet step+CFG s"),
    ("unet_step_s", "UNet step (b1) s"),
    ("vae_decode_s", "decode s"),
    ("text_encode_s", "text s"),
    ("image_20_steps_s", "20-step image s"),
    ("image_s", "image s"),
    ("peak_rss_gib", "peak RSS GiB"),
    ("unet_rel_l2_vs_fp32", "rel L2 vs fp32"),
    ("compile_s", "compile s"),
)


@dataclass(frozen=True)
class CaseSpec:
    """How one case builds and runs its pipeline."""

    name: str
    dtype: str  # "float32" / "bfloat16" / "float16"
    channels_last: bool = False
    compile: bool = False
    fast: bool = False
    huatu_layout: bool = False  # huatu.backends.local.tune_layout, as `huatu serve` does


def case_specs(compile_unet: bool) -> list[CaseSpec]:
    """The cases in run order; the compiled one only when ``compile_unet``."""
    from huatu.device import choose_device

    default_dtype = choose_device("cpu").dtype
    specs = [
        CaseSpec("baseline", "float32"),
        CaseSpec("huatu-default", default_dtype, huatu_layout=True),
        CaseSpec("bf16+channels_last", "bfloat16", channels_last=True),
    ]
    if compile_unet:
        specs.append(
            CaseSpec("bf16+channels_last+compile", "bfloat16", channels_last=True, compile=True)
        )
    specs.append(CaseSpec("huatu-fast", "bfloat16", channels_last=True, fast=True))
    return specs


# --------------------------------------------------------------------------- building


def build_case_pipeline(spec: CaseSpec, tokenizer_dir: Path, shared: dict[tuple, Any]) -> Any:
    """The pipeline of ``spec``; modules are shared between cases with the same weights.

    ``shared`` maps (dtype, channels_last) to an already built pipeline.
    """
    import torch
    from diffusers import LCMScheduler, StableDiffusionPipeline

    from huatu.bench.architecture import build_pipeline
    from huatu.schedulers import make_scheduler

    key = (spec.dtype, spec.channels_last, spec.huatu_layout)
    if key not in shared:
        pipe = build_pipeline(tokenizer_dir, getattr(torch, spec.dtype))
        if spec.channels_last:
            for module in (pipe.unet, pipe.vae, pipe.taesd):
                module.to(memory_format=torch.channels_last)
        if spec.huatu_layout:
            from huatu.backends.local import tune_layout
            from huatu.device import choose_device

            tune_layout(pipe, choose_device("cpu", spec.dtype))
        shared[key] = pipe
    base = shared[key]
    unet = base.unet
    if spec.compile:
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True  # weights become constants: folded, pre-packed
        unet = torch.compile(unet)
    pipe = StableDiffusionPipeline(
        vae=base.vae,
        text_encoder=base.text_encoder,
        tokenizer=base.tokenizer,
        unet=unet,
        scheduler=base.scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    pipe.taesd = base.taesd
    if spec.fast:
        pipe.scheduler = LCMScheduler.from_config(base.scheduler.config)
    else:
        pipe.scheduler = make_scheduler(IMAGE_SCHEDULER, base.scheduler.config)
    return pipe


# --------------------------------------------------------------------------- one measurement


class CaseRunner:
    """Runs one case's UNet step, decode and image on fixed inputs."""

    def __init__(self, spec: CaseSpec, pipe: Any, text_embeddings: Any) -> None:
        import torch

        self.spec = spec
        self.pipe = pipe
        self.dtype = getattr(torch, spec.dtype)
        batch = 1 if spec.fast else 2
        generator = torch.Generator("cpu").manual_seed(0)
        latents = torch.randn(batch, 4, LATENT, LATENT, generator=generator)
        self.latents = latents.to(self.dtype)
        self.decode_latents = latents[:1].to(self.dtype)
        self.embeddings = text_embeddings[:batch].to(self.dtype)
        self.timestep = torch.tensor(981)  # like scheduler.timesteps: a 0-d int64 tensor
        if spec.channels_last:
            self.latents = self.latents.to(memory_format=torch.channels_last)
            self.decode_latents = self.decode_latents.to(memory_format=torch.channels_last)

    def unet_step(self) -> Any:
        """One UNet forward, called the way the pipeline calls it."""
        import torch

        with torch.inference_mode():
            return self.pipe.unet(
                self.latents,
                self.timestep,
                encoder_hidden_states=self.embeddings,
                timestep_cond=None,
                cross_attention_kwargs=None,
                added_cond_kwargs=None,
                return_dict=False,
            )[0]

    def unet_step_batched(self, images: int) -> Any:
        """One UNet forward with CFG for ``images`` images at once (UNet batch 2×images)."""
        import torch

        latents = self.latents.repeat(images, 1, 1, 1)
        embeddings = self.embeddings.repeat_interleave(images, dim=0)
        with torch.inference_mode():
            return self.pipe.unet(
                latents, self.timestep, encoder_hidden_states=embeddings, return_dict=False
            )[0]

    def decode(self) -> Any:
        """Latents (1×4×64×64) to pixels (1×3×512×512): TAESD for the fast case, else the VAE."""
        import torch

        with torch.inference_mode():
            if self.spec.fast:
                return self.pipe.taesd.decode(self.decode_latents, return_dict=False)[0]
            vae = self.pipe.vae
            return vae.decode(self.decode_latents / vae.config.scaling_factor, return_dict=False)[0]

    def text_encode(self) -> Any:
        """The prompt (and, with CFG, the empty negative prompt) through CLIP."""
        import torch

        with torch.inference_mode():
            return self.pipe.encode_prompt(
                PROMPT,
                device="cpu",
                num_images_per_prompt=1,
                do_classifier_free_guidance=not self.spec.fast,
            )

    def image(self) -> Any:
        """One 512×512 image end to end, as a PIL image (text, steps, decode, postprocess)."""
        import torch

        generator = torch.Generator("cpu").manual_seed(0)
        if not self.spec.fast:
            return self.pipe(
                PROMPT,
                num_inference_steps=STEPS,
                guidance_scale=GUIDANCE,
                height=SIZE,
                width=SIZE,
                generator=generator,
                output_type="pil",
            ).images[0]
        latents = self.pipe(
            PROMPT,
            num_inference_steps=FAST_STEPS,
            guidance_scale=1.0,  # <= 1: no classifier-free guidance, UNet batch 1
            height=SIZE,
            width=SIZE,
            generator=generator,
            output_type="latent",
        ).images
        with torch.inference_mode():
            pixels = self.pipe.taesd.decode(latents, return_dict=False)[0]
        return self.pipe.image_processor.postprocess(pixels.float(), output_type="pil")[0]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``fn`` took, and what it returned."""
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def relative_l2(value: Any, reference: Any) -> float:
    """‖value − reference‖₂ / ‖reference‖₂, computed in fp32."""
    value, reference = value.float(), reference.float()
    return float((value - reference).norm() / reference.norm())


# --------------------------------------------------------------------------- peak memory


def peak_rss_gib() -> float:
    """This process's peak resident set size in GiB (VmHWM, else ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def rss_child(name: str, compile_unet: bool) -> dict[str, Any]:
    """In this (fresh) process: build case ``name``, run one UNet step and one decode."""
    import torch

    spec = next(spec for spec in case_specs(compile_unet=True) if spec.name == name)
    with tempfile.TemporaryDirectory() as scratch:
        pipe = build_case_pipeline(spec, Path(scratch), {})
    runner = CaseRunner(spec, pipe, torch.zeros(2, 77, 768))
    prompt_embeds, negative = runner.text_encode()
    runner.embeddings = (
        prompt_embeds if negative is None else torch.cat([negative, prompt_embeds])
    ).to(runner.dtype)
    runner.unet_step()
    runner.decode()
    return {"case": name, "peak_rss_gib": peak_rss_gib()}


def measure_peak_rss(name: str, timeout_s: float = 1200) -> float | None:
    """Peak RSS of case ``name`` in a fresh subprocess; ``None`` if it failed."""
    command = [sys.executable, "-m", "huatu.bench.run", "--rss-case", name]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=True
        )
    except (subprocess.SubprocessError, OSError) as error:
        print(f"  peak RSS of {name} failed: {error}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_gib"]


# --------------------------------------------------------------------------- results


def measure_batching(runner: CaseRunner, repeats: int, images: int = 4) -> dict[str, Any]:
    """Would batching ``images`` queued requests raise throughput? Median UNet step (with
    CFG) per image, run one image at a time vs ``images`` at once, interleaved.

    Denoising is nearly all of an image's time (text encoding and decoding are per image
    either way), so ``images_per_minute_gain`` ≈ the throughput gain of batching.
    """
    runner.unet_step_batched(images)  # warm-up of the larger shapes
    single: list[float] = []
    batched: list[float] = []
    for _ in range(max(2, repeats)):
        single.append(timed(runner.unet_step)[0])
        batched.append(timed(lambda: runner.unet_step_batched(images))[0] / images)
    one, many = statistics.median(single), statistics.median(batched)
    return {
        "case": runner.spec.name,
        "images": images,
        "unet_cfg_step_per_image_one_by_one_s": round(one, 3),
        "unet_cfg_step_per_image_batched_s": round(many, 3),
        "images_per_minute_gain": round(one / many, 2),
    }


def machine_info(quick: bool) -> dict[str, Any]:
    """CPU model, cores, library versions, date: what the numbers depend on."""
    import diffusers
    import torch
    import transformers

    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {
        "cpu": model,
        "cpu_flags": sorted(flags & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
    }


def speedups(cases: list[dict[str, Any]]) -> dict[str, float | None]:
    """baseline ÷ huatu-default for the UNet step and the 20-step image."""
    by_name = {case["name"]: case for case in cases}
    base, default = by_name.get("baseline", {}), by_name.get("huatu-default", {})

    def ratio(field: str) -> float | None:
        if base.get(field) and default.get(field):
            return round(base[field] / default[field], 2)
        return None

    return {"unet_cfg_step": ratio("unet_cfg_step_s"), "image_20_steps": ratio("image_20_steps_s")}


def format_table(result: dict[str, Any]) -> str:
    """The result as a Markdown table (estimated values marked ``~``) plus the speedups."""
    cases = result["cases"]
    fields = [(key, label) for key, label in FIELDS if any(c.get(key) is not None for c in cases)]
    lines = [
        "| case | " + " | ".join(label for _, label in fields) + " |",
        "|---|" + "---:|" * len(fields),
    ]
    for case in cases:
        cells = []
        for key, _ in fields:
            value = case.get(key)
            if value is None:
                cells.append("—")
                continue
            text = f"{value:.4f}" if key == "unet_rel_l2_vs_fp32" else f"{value:.2f}"
            if key in case.get("estimated_fields", ()):
                text = "~" + text
            cells.append(text)
        lines.append(f"| {case['name']} | " + " | ".join(cells) + " |")
    speed = result.get("speedup", {})
    lines.append("")
    lines.append(
        "speedup baseline/huatu-default: "
        + ", ".join(f"{key} {value}×" for key, value in speed.items() if value is not None)
    )
    if any(case.get("estimated") for case in cases):
        lines.append("~ estimated: text encode + 20 × UNet step + decode (quick mode)")
    batching = result.get("batching")
    if batching:
        lines.append(
            f"batching {batching['images']} queued images ({batching['case']}): UNet step per "
            f"image {batching['unet_cfg_step_per_image_one_by_one_s']:.2f} s one by one, "
            f"{batching['unet_cfg_step_per_image_batched_s']:.2f} s batched → "
            f"{batching['images_per_minute_gain']}× images per minute"
        )
    app = result.get("app")
    if app:
        lines.append(
            f"app (tiny model, through gradio_client): {app['overhead_ms']:.0f} ms per request "
            f"over the bare pipeline ({app['pipeline_direct_ms']:.0f} → "
            f"{app['through_app_ms']:.0f} ms; a Gradio call that runs no model: "
            f"{app.get('gradio_call_without_model_ms', 0):.0f} ms); first image "
            f"{app['first_request_s']:.1f} s after `huatu serve` starts"
        )
    return "\n".join(lines)


def write_result(result: dict[str, Any], out: Path) -> Path:
    """Write ``result`` as indented JSON to ``out`` (folders created)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


# --------------------------------------------------------------------------- the run


def main(quick: bool, out: Path = DEFAULT_OUT, compile_unet: bool | None = None) -> dict:
    """Run the benchmark, print the table, write ``out``; return the result.

    Args:
        quick: fewer repeats; end-to-end images of huatu-default, huatu-fast and short cases
            only (others estimated),
            no ``torch.compile`` case unless ``compile_unet``. Meant to finish in 10 minutes.
        out: where the JSON goes. Default ``bench/results/latest.json``.
        compile_unet: include the ``torch.compile`` case. Default: only in full runs.
    """
    os.environ.setdefault(*ONEDNN_CACHE)  # effective only if torch has not run a kernel yet
    import torch
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()
    started = time.perf_counter()
    compile_unet = (not quick) if compile_unet is None else compile_unet
    repeats, image_repeats = (2, 1) if quick else (5, 3)
    machine = machine_info(quick)
    specs = case_specs(compile_unet)
    print(f"huatu bench ({'quick' if quick else 'full'}): {[s.name for s in specs]}", flush=True)

    # 1. Peak memory, each case in a fresh process, before this process grows.
    peak = {}
    for spec in specs:
        seconds, peak[spec.name] = timed(lambda spec=spec: measure_peak_rss(spec.name))
        print(f"  peak RSS {spec.name}: {peak[spec.name]} GiB ({seconds:.0f} s)", flush=True)

    # 2. Build every case's pipeline.
    shared: dict[tuple, Any] = {}
    runners: dict[str, CaseRunner] = {}
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for spec in specs:
            build = lambda spec=spec: build_case_pipeline(spec, Path(scratch), shared)  # noqa: E731
            seconds, pipe = timed(build)
            rows[spec.name] = {"name": spec.name, "build_s": round(seconds, 1)}
            print(f"  built {spec.name} in {seconds:.1f} s", flush=True)
            runners[spec.name] = pipe
    # The same fp32 text embeddings for every case: the UNet comparison isolates the UNet.
    reference = next(runner for runner in runners.values())
    prompt_embeds, negative = reference.encode_prompt(PROMPT, "cpu", 1, True)
    embeddings = torch.cat([negative, prompt_embeds]).float()
    runners = {spec.name: CaseRunner(spec, runners[spec.name], embeddings) for spec in specs}

    # 3. Warm-up (and compile): one of everything per case; UNet outputs kept for the guard.
    outputs = {}
    for spec in specs:
        runner, row = runners[spec.name], rows[spec.name]
        seconds, outputs[spec.name] = timed(runner.unet_step)
        if spec.compile:
            row["compile_s"] = round(seconds, 1)
        runner.decode()
        runner.text_encode()
        print(f"  warmed up {spec.name} ({seconds:.1f} s first step)", flush=True)
    for spec in specs:
        if not spec.fast and "baseline" in outputs:
            rel = relative_l2(outputs[spec.name], outputs["baseline"])
            rows[spec.name]["unet_rel_l2_vs_fp32"] = round(rel, 5)

    # 4. Interleaved repeats: one round over every case per repeat.
    samples: dict[str, dict[str, list[float]]] = {s.name: {} for s in specs}
    for repeat in range(repeats):
        for spec in specs:
            runner, got = runners[spec.name], samples[spec.name]
            got.setdefault("unet", []).append(timed(runner.unet_step)[0])
            got.setdefault("decode", []).append(timed(runner.decode)[0])
            got.setdefault("text", []).append(timed(runner.text_encode)[0])
        print(f"  repeat {repeat + 1}/{repeats} done", flush=True)
    for spec in specs:
        row, got = rows[spec.name], samples[spec.name]
        row["unet_step_s" if spec.fast else "unet_cfg_step_s"] = _median(got["unet"])
        row["vae_decode_s"] = _median(got["decode"])
        row["text_encode_s"] = _median(got["text"])
        if spec.fast:
            row.update(steps=FAST_STEPS, guidance_scale=1.0, decoder="AutoencoderTiny (TAESD)")

    # 5. Batching queued requests: 4 images' UNet step at once vs one at a time.
    batching = measure_batching(runners["huatu-default"], repeats)
    print(f"  batching: {batching}", flush=True)

    # 6. End-to-end images, interleaved; in quick mode only where short, else estimated.
    for spec in specs:
        row = rows[spec.name]
        if spec.fast:
            continue
        estimate = row["text_encode_s"] + STEPS * row["unet_cfg_step_s"] + row["vae_decode_s"]
        row["image_20_steps_estimate_s"] = round(estimate, 2)
        if quick and estimate > QUICK_IMAGE_LIMIT_S and spec.name != "huatu-default":
            row["image_20_steps_s"] = round(estimate, 2)
            row["estimated"] = True
            row["estimated_fields"] = ["image_20_steps_s"]
    for repeat in range(image_repeats):
        for spec in specs:
            row = rows[spec.name]
            if row.get("estimated"):
                continue
            seconds = timed(runners[spec.name].image)[0]
            samples[spec.name].setdefault("image", []).append(seconds)
            print(f"  image {spec.name}: {seconds:.1f} s", flush=True)
        print(f"  image repeat {repeat + 1}/{image_repeats} done", flush=True)
    for spec in specs:
        row = rows[spec.name]
        if "image" in samples[spec.name]:
            key = "image_s" if spec.fast else "image_20_steps_s"
            row[key] = _median(samples[spec.name]["image"])
        row["peak_rss_gib"] = None if peak[spec.name] is None else round(peak[spec.name], 2)

    cases = [rows[spec.name] for spec in specs]
    # 7. The app's own cost (tiny model): overhead per request and time to first image.
    from huatu.bench.app import measure_app

    app = measure_app(repeats=10 if quick else 30)
    print(f"  app: {app}", flush=True)
    machine["total_s"] = round(time.perf_counter() - started, 1)
    # Other processes' load distorts timings; a high value here says to re-run.
    machine["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    result = {
        "machine": machine,
        "settings": {
            "size": SIZE,
            "steps": STEPS,
            "guidance_scale": GUIDANCE,
            "scheduler": IMAGE_SCHEDULER,
            "repeats": repeats,
            "image_repeats": image_repeats,
            "prompt": PROMPT,
        },
        "cases": cases,
        "speedup": speedups(cases),
        "batching": batching,
        "app": app,
    }
    write_result(result, out)
    print(format_table(result))
    print(f"wrote {out} in {machine['total_s']:.0f} s")
    return result


def cli(argv: list[str] | None = None) -> int:
    """``python -m huatu.bench [--quick] [--out PATH] [--compile | --no-compile]``."""
    parser = argparse.ArgumentParser(prog="python -m huatu.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (under 10 minutes)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="result JSON path")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="include the torch.compile case (default: in full runs only)",
    )
    parser.add_argument("--rss-case", help=argparse.SUPPRESS)  # internal: one case, print RSS
    args = parser.parse_args(argv)
    os.environ.setdefault(*ONEDNN_CACHE)  # before torch is imported
    if args.rss_case:
        print(json.dumps(rss_child(args.rss_case, compile_unet=True)), flush=True)
        return 0
    main(args.quick, args.out, args.compile)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
