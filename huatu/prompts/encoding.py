"""Prompts in AUTOMATIC1111's syntax encoded into the embeddings a diffusers pipeline takes
(``prompt_embeds`` … instead of ``prompt``), with A1111's arithmetic:

1. the prompt is read into weighted pieces (:mod:`huatu.prompts.syntax`) and tokenized into
   75-token chunks (:mod:`huatu.prompts.chunks`);
2. each chunk goes through the text encoder on its own (SD 1.x/2.x: the last layer; SDXL: the
   second-to-last layer of both encoders, side by side, and the pooled output of the second
   encoder's first chunk, as diffusers' SDXL pipeline takes them);
3. where a chunk has weights other than 1, its token vectors are multiplied by their weights
   and the chunk is scaled back to its original mean;
4. the chunks are joined one after another, and the prompt and negative prompt are made the
   same length with chunks of the empty prompt.

A prompt with no weights, no ``BREAK`` and at most 75 tokens encodes exactly as the pipeline's
own ``encode_prompt`` does, so plain prompts draw what they always drew.

torch is imported lazily.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from huatu.prompts.chunks import Chunked, TokenIds, chunk_pieces
from huatu.prompts.syntax import extra_networks, parse_weights


@dataclass
class Conditioning:
    """A prompt and negative prompt as embeddings.

    Attributes:
        prompt_embeds: ``(1, 77 × chunks, dim)``.
        negative_prompt_embeds: the same shape.
        pooled: SDXL's pooled prompt embedding, else ``None``.
        negative_pooled: SDXL's pooled negative embedding, else ``None``.
    """

    prompt_embeds: Any
    negative_prompt_embeds: Any
    pooled: Any = None
    negative_pooled: Any = None

    def arguments(self, batch: int = 1) -> dict[str, Any]:
        """The pipeline's keyword arguments, each embedding repeated ``batch`` times (one
        per picture when the pipeline is given one prompt per picture). Default 1."""
        found = {
            "prompt_embeds": self.prompt_embeds,
            "negative_prompt_embeds": self.negative_prompt_embeds,
            "pooled_prompt_embeds": self.pooled,
            "negative_pooled_prompt_embeds": self.negative_pooled,
        }
        return {
            name: value.repeat(batch, *[1] * (value.dim() - 1))
            for name, value in found.items()
            if value is not None
        }


class PromptEncoder:
    """Encodes prompts for one loaded pipeline (SD 1.x, SD 2.x, SDXL and their kin: any
    pipeline with CLIP tokenizers and text encoders).

    Args:
        pipe: the loaded diffusers pipeline.
    """

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.two_encoders = getattr(pipe, "text_encoder_2", None) is not None
        #: Held while the tokenizers are used or changed (an embedding added): a fast
        #: tokenizer must not be used from two threads at once (the studio's live token
        #: count runs beside a generation).
        self.tokenizer_lock = threading.Lock()

    @staticmethod
    def suits(pipe: Any) -> bool:
        """Whether ``pipe`` reads prompts through CLIP as SD and SDXL do."""
        tokenizer = getattr(pipe, "tokenizer", None)
        return (
            getattr(pipe, "text_encoder", None) is not None and "CLIP" in type(tokenizer).__name__
        )

    def chunked(self, text: str, tokenizer: Any = None) -> Chunked:
        """``text`` (extra-network tags left out) as chunks of ``tokenizer`` (default: the
        first); ``token_count`` is what the studio shows."""
        tokenizer = tokenizer or self.pipe.tokenizer
        text, _ = extra_networks(text)
        convert = getattr(self.pipe, "maybe_convert_prompt", None)

        def tokenize(piece: str) -> list[int]:
            if convert is not None:  # a multi-vector embedding's name → its tokens
                piece = convert(piece, tokenizer)
            return tokenizer(piece, add_special_tokens=False, verbose=False).input_ids

        with self.tokenizer_lock:
            return chunk_pieces(parse_weights(text), tokenize, TokenIds.of(tokenizer))

    def encode(self, prompt: str, negative_prompt: str) -> Conditioning:
        """Both texts as embeddings of equal length (see the module)."""
        import torch

        with torch.no_grad():
            positive, pooled = self._encode(prompt)
            zero_negative = not negative_prompt and self._zeros_for_empty_negative()
            negative, negative_pooled = self._encode(negative_prompt)
            if zero_negative:  # diffusers' SDXL default for an empty negative prompt
                negative = torch.zeros_like(negative)
                negative_pooled = torch.zeros_like(negative_pooled)
            if negative.shape[1] != positive.shape[1]:  # as long as each other
                empty = self._encode("")[0]
                length = max(negative.shape[1], positive.shape[1])
                positive = _padded(positive, length, empty)
                negative_filler = torch.zeros_like(empty) if zero_negative else empty
                negative = _padded(negative, length, negative_filler)
        return Conditioning(positive, negative, pooled, negative_pooled)

    def _zeros_for_empty_negative(self) -> bool:
        config = getattr(self.pipe, "config", {})
        return self.two_encoders and bool(config.get("force_zeros_for_empty_prompt", False))

    def _encode(self, text: str) -> tuple[Any, Any]:
        """``text`` through every text encoder: ``(embeddings, pooled or None)``."""
        import torch

        if not self.two_encoders:
            return self._through(self.pipe.tokenizer, self.pipe.text_encoder, text, None)[0], None
        first, _ = self._through(self.pipe.tokenizer, self.pipe.text_encoder, text, -2)
        second, pooled = self._through(self.pipe.tokenizer_2, self.pipe.text_encoder_2, text, -2)
        return torch.cat([first, second], dim=-1), pooled

    def _through(
        self, tokenizer: Any, encoder: Any, text: str, layer: int | None
    ) -> tuple[Any, Any]:
        """``text`` through one encoder, chunk by chunk, weighted: ``(1, 77 × n, dim)`` and
        the first chunk's pooled output."""
        import torch

        chunks = self.chunked(text, tokenizer).chunks
        device = encoder.device
        ids = torch.tensor([chunk.tokens for chunk in chunks], device=device)
        output = encoder(ids, output_hidden_states=layer is not None)
        hidden = output.hidden_states[layer] if layer is not None else output[0]
        weights = torch.tensor([chunk.weights for chunk in chunks], device=device)
        if bool((weights != 1).any()):
            weights = weights.to(hidden.dtype)[..., None]
            mean = hidden.mean(dim=(1, 2), keepdim=True)
            hidden = hidden * weights
            weighted = hidden.mean(dim=(1, 2), keepdim=True)
            # A chunk whose weighted mean comes out exactly 0 (embeddings centred on 0, e.g.
            # a freshly initialised encoder) keeps its scale instead of becoming inf/NaN.
            scale = torch.where(weighted != 0, mean / weighted, torch.ones_like(mean))
            hidden = hidden * scale
        pooled = output[0][:1] if layer is not None else None
        return hidden.reshape(1, -1, hidden.shape[-1]).to(encoder.dtype), pooled


def _padded(embeds: Any, length: int, filler: Any) -> Any:
    """``embeds`` followed by ``filler`` chunks up to ``length`` tokens."""
    import torch

    missing = (length - embeds.shape[1]) // filler.shape[1]
    return torch.cat([embeds, *[filler] * missing], dim=1) if missing else embeds
