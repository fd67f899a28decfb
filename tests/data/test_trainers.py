"""TRL's real trainers run two optimisation steps on a tiny random Qwen2 model with aimo's datasets
and reward functions (needs `pip install 'aimo[train]'`; the CUDA variant needs a GPU)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="the trainer tests need TRL: pip install torch==2.13.0 'aimo[train]'")
import torch
from datasets import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tinyhf import tiny_hf_model

from aimo.data import accuracy_reward, cosine_reward, format_reward, length_reward
from aimo.data.build import build_rows, resolve_preset

STEPS = 2


@pytest.fixture(scope="module")
def tiny_model_dir() -> Path:
    return tiny_hf_model()


def _load(model_dir: Path, device: str = "cpu"):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return model, tokenizer


def _rows(graded_problems, kind: str, preset: str | None = None, **overrides) -> Dataset:
    rows = list(build_rows(graded_problems, resolve_preset(preset, kind, **overrides)))
    assert rows, f"no {kind} rows"
    return Dataset.from_list([json.loads(json.dumps(r)) for r in rows])


def _common(tmp_path: Path, **extra) -> dict:
    return dict(
        output_dir=str(tmp_path / "out"), max_steps=STEPS, per_device_train_batch_size=2, learning_rate=1e-3,
        logging_steps=1, save_strategy="no", report_to=[], use_cpu=not torch.cuda.is_available(),
        bf16=False, **extra,
    )  # fmt: skip


def _changed(before: dict, model) -> bool:
    return any(not torch.equal(before[n], p.detach().cpu()) for n, p in model.named_parameters())


def _train_two_steps(trainer_name: str, dataset: Dataset, model_dir: Path, tmp_path: Path) -> None:
    """Two optimisation steps of TRL's `trainer_name` (SFT or DPO) that change the weights."""
    import trl

    model, tokenizer = _load(model_dir)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    config = getattr(trl, f"{trainer_name}Config")(**_common(tmp_path, max_length=128))
    trainer = getattr(trl, f"{trainer_name}Trainer")(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer
    )
    trainer.train()
    assert trainer.state.global_step == STEPS
    assert _changed(before, model)


def test_sft_trainer_takes_two_steps_on_aimo_sft_rows(tiny_model_dir, graded_problems, tmp_path):
    dataset = _rows(graded_problems, "sft", per_problem=None, dedupe=None)
    _train_two_steps("SFT", dataset, tiny_model_dir, tmp_path)


def test_dpo_trainer_takes_two_steps_on_aimo_pairs(tiny_model_dir, graded_problems, tmp_path):
    dataset = _rows(graded_problems, "dpo", "correct-wrong", dedupe=None)
    _train_two_steps("DPO", dataset, tiny_model_dir, tmp_path)


def _grpo(tiny_model_dir: Path, graded_problems, tmp_path: Path, device: str) -> None:
    from trl import GRPOConfig, GRPOTrainer

    model, tokenizer = _load(tiny_model_dir, device)
    dataset = _rows(graded_problems, "grpo", dedupe=None)
    calls: list[str] = []

    def spy(completions, **kwargs):  # records that TRL reached the rewards with aimo's `answer` column
        calls.append(str(kwargs["answer"][0]))
        return [0.0] * len(completions)

    rewards = [format_reward, accuracy_reward("integer"), cosine_reward(max_len=8), length_reward(), spy]
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=rewards,
        args=GRPOConfig(**_common(tmp_path, num_generations=2, max_completion_length=8, temperature=1.0)),
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    assert trainer.state.global_step == STEPS
    assert calls and all(c in {str(p.gold) for p in graded_problems} for c in calls)


def test_grpo_trainer_takes_two_steps_with_aimo_rewards(tiny_model_dir, graded_problems, tmp_path):
    _grpo(tiny_model_dir, graded_problems, tmp_path, "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_grpo_trainer_takes_two_steps_on_cuda(tiny_model_dir, graded_problems, tmp_path):
    _grpo(tiny_model_dir, graded_problems, tmp_path, "cuda")
