"""Write diffusers Stable Diffusion 1.x pipelines as single-file checkpoints and LoRAs in the
layout AUTOMATIC1111 and model sites use (``model.diffusion_model.…``, ``first_stage_model.…``,
``cond_stage_model.transformer.…``; kohya's ``lora_unet_…`` LoRA keys), so the tests can load
them back through diffusers' ``from_single_file`` and huatu's models folder.

The key mapping is the inverse of the one diffusers applies when it reads such a file,
written for any number of blocks and layers (the tiny model has two blocks of one layer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
_VAE_RESNET = {"conv_shortcut": "nin_shortcut"}
_VAE_ATTENTION = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}


def _rename(rest: str, table: dict[str, str]) -> str:
    for old, new in table.items():
        if rest == old or rest.startswith(old + "."):
            return new + rest[len(old) :]
    return rest


def unet_to_ldm(state: dict[str, Any], layers_per_block: int) -> dict[str, Any]:
    """A diffusers ``UNet2DConditionModel`` state dict under LDM's key names."""
    per_down = per_up = layers_per_block + 1
    out: dict[str, Any] = {}
    for key, value in state.items():
        parts = key.split(".")
        if key.startswith("time_embedding."):
            new = key.replace("time_embedding.linear_1", "time_embed.0").replace(
                "time_embedding.linear_2", "time_embed.2"
            )
        elif key.startswith("conv_in."):
            new = "input_blocks.0.0." + parts[1]
        elif key.startswith("conv_norm_out."):
            new = "out.0." + parts[1]
        elif key.startswith("conv_out."):
            new = "out.2." + parts[1]
        elif key.startswith("down_blocks."):
            block, kind, index, rest = int(parts[1]), parts[2], int(parts[3]), ".".join(parts[4:])
            if kind == "resnets":
                new = f"input_blocks.{1 + block * per_down + index}.0.{_rename(rest, _RESNET)}"
            elif kind == "attentions":
                new = f"input_blocks.{1 + block * per_down + index}.1.{rest}"
            else:  # downsamplers.0.conv
                new = f"input_blocks.{(block + 1) * per_down}.0.op.{parts[-1]}"
        elif key.startswith("mid_block."):
            kind, index, rest = parts[1], int(parts[2]), ".".join(parts[3:])
            if kind == "resnets":
                new = f"middle_block.{2 * index}.{_rename(rest, _RESNET)}"
            else:
                new = f"middle_block.1.{rest}"
        elif key.startswith("up_blocks."):
            block, kind, index, rest = int(parts[1]), parts[2], int(parts[3]), ".".join(parts[4:])
            if kind == "resnets":
                new = f"output_blocks.{block * per_up + index}.0.{_rename(rest, _RESNET)}"
            elif kind == "attentions":
                new = f"output_blocks.{block * per_up + index}.1.{rest}"
            else:  # upsamplers.0.conv: after the attention when the block has one
                has_attention = any(k.startswith(f"up_blocks.{block}.attentions.") for k in state)
                slot = 2 if has_attention else 1
                new = f"output_blocks.{block * per_up + layers_per_block}.{slot}.{rest}"
        else:
            raise KeyError(key)
        out["model.diffusion_model." + new] = value
    return out


def vae_to_ldm(state: dict[str, Any], blocks: int) -> dict[str, Any]:
    """A diffusers ``AutoencoderKL`` state dict under LDM's key names (attention weights as
    1×1 convolutions)."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        parts = key.split(".")
        new = key
        if parts[0] in ("encoder", "decoder") and parts[1] in ("down_blocks", "up_blocks"):
            block = int(parts[2])
            level = block if parts[1] == "down_blocks" else blocks - 1 - block
            side = "down" if parts[1] == "down_blocks" else "up"
            if parts[3] == "resnets":
                rest = _rename(".".join(parts[5:]), _VAE_RESNET)
                new = f"{parts[0]}.{side}.{level}.block.{parts[4]}.{rest}"
            else:
                sample = "downsample" if side == "down" else "upsample"
                new = f"{parts[0]}.{side}.{level}.{sample}.{'.'.join(parts[5:])}"
        elif parts[0] in ("encoder", "decoder") and parts[1] == "mid_block":
            if parts[2] == "resnets":
                rest = _rename(".".join(parts[4:]), _VAE_RESNET)
                new = f"{parts[0]}.mid.block_{int(parts[3]) + 1}.{rest}"
            else:
                new = f"{parts[0]}.mid.attn_1.{_rename('.'.join(parts[4:]), _VAE_ATTENTION)}"
                if value.ndim == 2:
                    value = value[:, :, None, None]
        elif parts[0] in ("encoder", "decoder") and parts[1] == "conv_norm_out":
            new = f"{parts[0]}.norm_out.{parts[2]}"
        out["first_stage_model." + new] = value
    return out


def save_single_file(pipe: Any, path: Path) -> Path:
    """Write the SD 1.x ``pipe`` as one ``.safetensors`` checkpoint in LDM's layout."""
    from safetensors.torch import save_file

    unet = unet_to_ldm(pipe.unet.state_dict(), pipe.unet.config.layers_per_block)
    vae = vae_to_ldm(pipe.vae.state_dict(), len(pipe.vae.config.block_out_channels))
    text = {  # transformers >= 5.6 flattened CLIPTextModel; real checkpoints keep text_model.
        "cond_stage_model.transformer."
        + ("" if key.startswith("text_model.") else "text_model.")
        + key: value
        for key, value in pipe.text_encoder.state_dict().items()
    }
    tensors = {key: value.contiguous() for key, value in {**unet, **vae, **text}.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    return path


def build_tiny_sdxl(folder: Path, tokenizer_dir: Path) -> Path:
    """Save a tiny SDXL pipeline (two CLIP text encoders, a UNet with SDXL's size and text
    conditioning) with seeded random weights as a diffusers folder; return the folder."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from huatu.backends.tiny import build_offline_tokenizer

    tokenizer = build_offline_tokenizer(tokenizer_dir)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=6 * 8 + 32,
        cross_attention_dim=64,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
    )
    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        max_position_embeddings=77,
        projection_dim=32,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(config),
        text_encoder_2=CLIPTextModelWithProjection(config),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            steps_offset=1,
            timestep_spacing="leading",
        ),
    )
    pipe.save_pretrained(folder)
    return folder


def save_kohya_lora(unet: Any, path: Path, *, seed: int = 0, rank: int = 4) -> Path:
    """A LoRA for ``unet``'s attention projections with seeded random weights, in the
    kohya/A1111 key format (``lora_unet_<module>.lora_down.weight`` / ``.lora_up.weight`` /
    ``.alpha``), as model sites publish LoRAs."""
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, Any] = {}
    for name, module in unet.named_modules():
        if not isinstance(module, torch.nn.Linear) or ".attn" not in name:
            continue
        key = "lora_unet_" + name.replace(".", "_")
        down = torch.randn(rank, module.in_features, generator=generator) * 0.5
        up = torch.randn(module.out_features, rank, generator=generator) * 0.5
        tensors[f"{key}.lora_down.weight"] = down.contiguous()
        tensors[f"{key}.lora_up.weight"] = up.contiguous()
        tensors[f"{key}.alpha"] = torch.tensor(float(rank))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"ss_network_module": "networks.lora"})
    return path


def save_embedding(width: int, path: Path, *, vectors: int = 2, seed: int = 0) -> Path:
    """A textual-inversion embedding in A1111's ``.safetensors`` format (``emb_params``:
    ``vectors`` × ``width``) with seeded random values."""
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"emb_params": torch.randn(vectors, width, generator=generator)}, str(path))
    return path


def build_tiny_taiyi(tiny_model: Path, folder: Path) -> Path:
    """A tiny Taiyi-style model (SD 1.x whose text encoder is a Chinese BERT: it reads Chinese
    as written): the tiny model's UNet, VAE and scheduler with a seeded random ``BertModel``
    and a ``BertTokenizer`` over a few hundred common characters; saved as a diffusers folder."""
    import torch
    from diffusers import StableDiffusionPipeline
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    characters = "一只猫狗在公园里的红色狐狸雪中山水画风景人物花鸟月亮太阳海边城市夜晚灯塔黄昏"
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(characters)]
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(words) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab), model_max_length=77)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=77,
    )
    base = StableDiffusionPipeline.from_pretrained(tiny_model)
    pipe = StableDiffusionPipeline(
        vae=base.vae,
        text_encoder=BertModel(config, add_pooling_layer=False),
        tokenizer=tokenizer,
        unet=base.unet,
        scheduler=base.scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    target = folder / "taiyi-tiny"
    pipe.save_pretrained(target)
    return target
