"""AUTOMATIC1111's prompt syntax: emphasis weights, ``BREAK``, ``<lora:…>`` tags, and the
75-token chunks a long prompt is encoded in.

* :mod:`~huatu.prompts.syntax` — a prompt read into weighted pieces and extra-network tags.
* :mod:`~huatu.prompts.chunks` — the pieces tokenized into 75-token chunks with a weight per
  token (A1111's arithmetic), and the studio's live token count.
* :mod:`~huatu.prompts.encoding` — the chunks through a pipeline's text encoders, weighted,
  into the embeddings diffusers pipelines take.
"""
