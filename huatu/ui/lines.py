"""The studio's progress lines and session key: small texts the generate handler yields."""

from __future__ import annotations

import gradio as gr

from huatu.messages import message, render
from huatu.runs import RunUpdate


def session_of(request: gr.Request | None) -> str:
    """A key for the person's browser session (API callers without one share "api")."""
    return getattr(request, "session_hash", None) or "api"


def step_line(update: RunUpdate, language: str) -> str:
    """``"Step 3/20 · about 12 s left"`` in ``language``."""
    if update.eta_s is None:
        return message("step_progress_no_eta", language, step=update.step, total=update.total)
    return message(
        "step_progress", language, step=update.step, total=update.total, eta=round(update.eta_s)
    )


def waiting_line(update: RunUpdate, language: str) -> str:
    """The line while a run waits, in ``language``: for the first model (its download or
    load, as the service says) or the hosted service's countdown."""
    if update.wait_s is None and update.message is not None:
        return render(update.message, language)
    if update.wait_s is None:
        return message("waiting_no_time", language)
    return message("waiting", language, seconds=round(update.wait_s))


def stopped_line(step: int, total: int, language: str) -> str:
    """The line for a run stopped after ``step`` of ``total`` steps (just "Stopped." before
    the first step) in ``language``."""
    if not step:
        return message("stopped", language)
    return message("stopped_run", language, step=step, total=total)


def render_seed(seed: int, language: str) -> str:
    """``"Seed: 42"`` in ``language``."""
    return message("seed_used", language, seeds=seed)
