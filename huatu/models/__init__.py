"""People's own models: the models folder, model families, file hashes, loading.

* :mod:`~huatu.models.families` — the one table of families (SD 1.x, SD 2.x, SDXL, the
  few-step ones, the Chinese-reading ones): defaults, sizes, schedulers, pipeline class.
* :mod:`~huatu.models.recognise` — which family a checkpoint file or diffusers folder is,
  read from the file itself.
* :mod:`~huatu.models.folders` — the models folder in AUTOMATIC1111's layout and other
  installs' folders: what is there, looked up by name, never by path.
* :mod:`~huatu.models.hashes` — A1111's file hashes, computed once per file version.
* :mod:`~huatu.models.loading` — a recognised model loaded as a diffusers pipeline.
"""
