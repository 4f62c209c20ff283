"""``huatu models``: what the models folders hold (``list``), models worth having
(``recommended``), and fetching one from the Hugging Face Hub (``pull``)."""

from __future__ import annotations

import json

import click

from huatu.cli.options import extra_dirs_option, load_cli_settings, text
from huatu.models.folders import CHECKPOINT, KINDS, kind_folders, library_for
from huatu.models.recognise import family_label


@click.group()
def models() -> None:
    """Your own models: checkpoints, LoRAs, VAEs and embeddings in the models folders."""


@models.command(name="list")
@extra_dirs_option
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def list_models(as_json: bool) -> None:
    """Show the models found, with their family and size, and where each folder is.

    The models folder is HUATU_MODELS_DIR (default ./models) in AUTOMATIC1111's layout:
    Stable-diffusion/, Lora/, VAE/, embeddings/.
    """
    settings = load_cli_settings()
    library = library_for(settings)
    rows = [
        {
            "kind": found.kind,
            "name": found.name,
            "family": family_label(found).split(" · ")[0] if found.kind == CHECKPOINT else None,
            "size_mb": round(found.size / 2**20, 1),
            "path": str(found.path),
        }
        for kind in KINDS
        for found in library.files(kind)
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    roots = [settings.models_dir, *settings.extra_model_dirs]
    for kind in KINDS:
        folders = kind_folders(roots, kind)
        where = ", ".join(str(folder) for folder in folders) or text("cli_models_no_folder")
        click.echo(f"{text('kind_' + kind)} — {where}")
        for row in (row for row in rows if row["kind"] == kind):
            family = f"  [{row['family']}]" if row["family"] else ""
            click.echo(f"  {row['name']}{family}  {row['size_mb']} MB")
    if not rows:
        click.echo(text("cli_models_empty", folder=str(settings.models_dir)))


@models.command()
@click.argument("model_id")
@click.option(
    "--half",
    is_flag=True,
    help="Fetch the fp16 weights (for a GPU; half the download). [default: full precision]",
)
def pull(model_id: str, half: bool) -> None:
    """Download MODEL_ID (a Hub id, e.g. stabilityai/sd-turbo) into the models folder's
    Stable-diffusion/: only the files its pipeline needs, one precision, .safetensors, with a
    progress bar; run it again to resume an interrupted download."""
    from huatu.cli.options import failure
    from huatu.errors import HuatuError
    from huatu.models.download import pull as fetch

    settings = load_cli_settings()
    try:
        folder = fetch(model_id, settings, half=half)
    except HuatuError as error:
        raise failure(error, settings) from None
    library_for(settings).refresh()
    click.echo(text("cli_pulled", model=model_id, folder=str(folder), name=folder.name))


@models.command()
def recommended() -> None:
    """Models worth having, with their family and licence (fetch one with ``pull``)."""
    from huatu.models.download import RECOMMENDED

    for item in RECOMMENDED:
        click.echo(f"{item.id}  [{item.family}]  {item.why}")
        click.echo(f"    {text('cli_licence', licence=item.licence)}")
