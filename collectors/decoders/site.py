"""The decoders a deployment uses: the shipped library and the site's folders from ``sentinel.yaml``.

The composition root (``sentinel serve``, ``sentinel ingest``) calls ``use_configured_decoders`` once
at start; a decoder file with a problem is logged with its file and line and left out, the others
work. ``sentinel decoders validate`` reports the same problems before a deployment.
"""

from __future__ import annotations

import logging
from pathlib import Path

from collectors.decoders.dispatch import DecoderSet
from collectors.decoders.loader import DecoderLoad, load_decoders
from collectors.parsers import install_decoders
from sentinel.config import Settings

logger = logging.getLogger(__name__)


def decoder_dirs(settings: Settings) -> list[Path]:
    """The configured site decoder folders, resolved against the configuration file's folder."""
    base = settings.source_path.parent if settings.source_path is not None else None
    return [p if p.is_absolute() or base is None else base / p for p in settings.decoders.dirs]


def load_configured(settings: Settings) -> DecoderLoad:
    missing = [p for p in decoder_dirs(settings) if not p.exists()]
    loaded = load_decoders(
        [p for p in decoder_dirs(settings) if p.exists()],
        builtin=settings.decoders.builtin,
        disabled=settings.decoders.disabled,
    )
    for path in missing:
        logger.warning("decoder folder %s does not exist", path)
    return loaded


def use_configured_decoders(settings: Settings) -> DecoderSet:
    """Load the configured decoders and make them the ones every normaliser of this process uses."""
    loaded = load_configured(settings)
    for error in loaded.errors:
        logger.error("decoder not loaded: %s", error)
    decoders = DecoderSet(loaded.decoders, loaded.errors)
    install_decoders(decoders)
    logger.info("%d decoders active (%d with problems left out)", len(decoders.decoders), len(loaded.errors))
    return decoders
