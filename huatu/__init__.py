"""huatu (画图): a text-to-image studio on Gradio and Stable Diffusion."""

__version__ = "0.1.0"
