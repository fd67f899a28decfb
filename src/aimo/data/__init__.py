"""Training data from aimo's runs and recorded traces: SFT, DPO, KTO and GRPO datasets in the shapes
TRL and LLaMA-Factory read, reward functions with TRL's signature, and the token scheduler.

    >>> from aimo.data import format_reward
    >>> format_reward(["<think>so \\\\boxed{7}</think> 7", "no answer"])
    [1.0, 0.0]
"""

from aimo.data.build import Output, build_rows, resolve_preset
from aimo.data.graded import DataError, GradedProblem, GradedSample, load_graded, load_many, with_texts
from aimo.data.presets import PRESETS, Preset
from aimo.data.rewards import accuracy_reward, cosine_reward, format_reward, length_reward
from aimo.data.scheduler import TokenScheduler, fit_scheduler, token_prior

__all__ = [
    "PRESETS",
    "DataError",
    "GradedProblem",
    "GradedSample",
    "Output",
    "Preset",
    "TokenScheduler",
    "accuracy_reward",
    "build_rows",
    "cosine_reward",
    "fit_scheduler",
    "format_reward",
    "length_reward",
    "load_graded",
    "load_many",
    "resolve_preset",
    "token_prior",
    "with_texts",
]
