"""Backends: one module per way of making images, behind :class:`huatu.backends.base.Backend`."""
