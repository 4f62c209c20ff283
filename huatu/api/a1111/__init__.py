"""AUTOMATIC1111-compatible HTTP API under ``/sdapi/v1``, for tools that already speak it.

Clients written for AUTOMATIC1111's web UI (A1111) — the ``webuiapi`` package, Krita and
Photoshop plug-ins, chat bots — can point at huatu instead. Every generation goes through
:meth:`~huatu.service.ImageService.generate`, so it is validated by
:meth:`~huatu.request.GenerationRequest.create` and saved to the outputs and the history
like a studio image.

Supported:

* ``POST /txt2img`` — ``prompt``, ``negative_prompt``, ``steps`` (default 50, as in A1111),
  ``cfg_scale`` (7), ``width``/``height`` (512), ``seed`` (-1: random), ``batch_size`` (1–4
  images per run), ``n_iter`` (1–25 runs), ``sampler_name`` (or the deprecated
  ``sampler_index``; default ``"Euler"`` as in A1111) with ``scheduler`` (A1111 >= 1.9's
  schedule type: ``Automatic``, ``Uniform`` or ``Karras``; the older combined names such as
  ``"DPM++ 2M Karras"`` work too) and ``send_images``. Image *k* of the request uses
  ``seed + k`` (run *i* starts at ``seed + i * batch_size``), as in A1111. The answer is
  ``{"images": [base64 PNG …], "parameters": {the request}, "info": "<JSON text>"}``; each PNG
  carries its A1111 ``parameters`` text chunk, and ``info`` has A1111's fields (``all_seeds``,
  ``infotexts``, …). No grid image is added (as A1111 with ``return_grid`` off).
* ``POST /img2img`` — txt2img's fields and ``init_images`` (the first is used), ``mask``
  (white repaints), ``denoising_strength`` (0.75), ``mask_blur`` (4), ``inpainting_fill``
  (0 fill and 1 original start from the picture, 2 latent noise and 3 latent nothing from
  noise), ``inpaint_full_res`` (+ ``inpaint_full_res_padding``), ``inpainting_mask_invert``
  and ``resize_mode`` (0–2). ``/txt2img`` takes the hires fix (``enable_hr``, ``hr_scale``,
  ``hr_upscaler``: any "Latent …" is latent, else Lanczos, ``hr_second_pass_steps``,
  ``denoising_strength``). ``POST /extra-single-image`` upscales (``upscaling_resize`` or
  ``upscaling_resize_w``/``h`` with ``resize_mode`` 1; ``upscaler_1`` Lanczos, Nearest or
  None = Lanczos), ``POST /png-info`` reads a picture's parameters, ``GET /upscalers`` lists
  them. Pictures are checked as every upload is (:func:`huatu.images.read_image`).
* ``GET /progress`` (``?skip_current_image=true`` leaves the preview out), ``POST /interrupt``
  (stops the API run within one step; the answer holds the images of runs already finished)
  and ``POST /skip`` (stops the current run of an ``n_iter`` request, goes on with the next).
  These see and stop this API's own generations, not the studio's.
* ``GET /options`` and ``POST /options`` (``sd_model_checkpoint`` switches the model, blocking
  until it is loaded, to a model of ``/sd-models`` — by title, name or file name — or a
  Hugging Face Hub id; if loading fails the old model stays), ``GET /sd-models`` (the
  checkpoints of the models folders as A1111 lists them, :mod:`huatu.api.a1111.models`),
  ``POST /refresh-checkpoints`` and ``/refresh-loras`` (scan the folders again), ``GET
  /loras`` (by the name ``<lora:name:weight>`` writes), ``/embeddings`` (those that fit the
  loaded model, and the skipped), ``/sd-vae`` (``options`` ``sd_vae`` picks one, or
  ``Automatic``: the model's own), ``/samplers``, ``/schedulers``,
  and empty lists or objects for ``/hypernetworks``,
  ``/scripts``, ``/cmd-flags`` … which client libraries ask for when they start.

Accepted and ignored: every other A1111 field (``styles``, ``subseed``, ``restore_faces``,
``override_settings``, ``script_name``,
``alwayson_scripts`` …) and unknown fields; ``save_images`` (huatu always saves); every
option other than ``sd_model_checkpoint``. Not served: face restoration, interrogate,
training.

Errors: a bad field value answers **422** in FastAPI's validation shape — the shape A1111
itself answers when pydantic rejects a field, so clients already handle it::

    {"detail": [{"type": "value_error", "loc": ["body", "steps"],
                 "msg": "`steps` must be an integer from 1 to 100, but is 0.", "input": 0}]}

Broken JSON gets FastAPI's own 422 of that shape. Other failures answer in the shape of
A1111's API error handler, ``{"error": "<kind>", "detail": "<sentence>", "body": "",
"errors": "<sentence>"}``, with the status of :data:`huatu.api.http_errors.FAILURES` (the
OpenAI API's too): 503 with ``Retry-After`` when too many API generations are already
waiting (``QueueFullError``), 503 when no model is loaded or the model ran out of memory, 400
for a model that cannot be loaded or images all withheld by the safety checker, 502/504 when
the hosted service fails, 500 otherwise. Messages never hold a traceback or a secret.

Modules: :mod:`~huatu.api.a1111.schemas` (bodies and their mapping to the request),
:mod:`~huatu.api.a1111.progress` (``/progress``, ``/interrupt``, ``/skip``),
:mod:`~huatu.api.a1111.answers` (answers and error bodies), :mod:`~huatu.api.a1111.router`
(the routes). Sampler names are read in :mod:`huatu.schedulers`.
"""

from __future__ import annotations

from huatu.api.a1111.router import PREFIX, create_router

__all__ = ["PREFIX", "create_router"]
