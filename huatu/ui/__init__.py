"""Gradio layouts and wiring; no generation logic lives here."""
