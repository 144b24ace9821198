"""Self-rationalization training: seed SFT, self-sampling, preference-pair curation, iterated DPO,
training baselines, resume. Heavy libraries (torch, transformers, trl, peft) are imported by the
stage modules that need them, never here."""

from .config import ConfigError, TrainConfig

__all__ = ["ConfigError", "TrainConfig"]
