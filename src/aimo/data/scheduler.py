"""The token scheduler (Fast-Math-R1's idea): from a problem's text, predict how many tokens the model
needs to answer it and how often it gets it right, before running it.

Features are the problem's sentence embedding (all-MiniLM-L6-v2, `aimo.data.embed`); two ridge
regressions (closed form, numpy only) predict log(median tokens of the answered samples) and the pass
rate. The ridge strength is chosen by exact leave-one-out error over a small grid, and the same
leave-one-out predictions measure the fit honestly (`Fit.loo_*`). The fitted model is a small JSON
file: weights, not a pickle.

The time manager uses it through `token_prior`: a problem's weight is its predicted tokens over the
training problems' median prediction, clipped to `WEIGHT_RANGE`; the weight scales the problem's
share of the time left and the planner's token estimate (`BudgetConfig.token_scheduler`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from aimo.data.embed import Embedder, sentence_embedder
from aimo.data.graded import DataError, GradedProblem

SCHEDULER_SCHEMA = 1
ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0)
WEIGHT_RANGE = (0.5, 2.0)


@dataclass(frozen=True)
class Prediction:
    tokens: float
    pass_rate: float


@dataclass(frozen=True)
class Ridge:
    """y ≈ [x, 1] · weights, fitted with L2 strength `alpha` (the bias is not penalised)."""

    weights: tuple[float, ...]
    alpha: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return _with_bias(x) @ np.asarray(self.weights)


def _with_bias(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((x.shape[0], 1))])


def fit_ridge(x: np.ndarray, y: np.ndarray, alphas: Sequence[float] = ALPHAS) -> tuple[Ridge, np.ndarray]:
    """The ridge with the least leave-one-out squared error, and its leave-one-out predictions."""
    a = _with_bias(x)
    best: tuple[float, Ridge, np.ndarray] | None = None
    for alpha in alphas:
        penalty = alpha * np.eye(a.shape[1])
        penalty[-1, -1] = 0.0
        inverse = np.linalg.pinv(a.T @ a + penalty)
        weights = inverse @ a.T @ y
        hat = np.einsum("ij,jk,ik->i", a, inverse, a)  # leverages: diag(A (AᵀA + P)⁻¹ Aᵀ)
        loo = y - (y - a @ weights) / np.maximum(1e-9, 1.0 - hat)
        error = float(np.mean((loo - y) ** 2))
        if best is None or error < best[0]:
            best = (error, Ridge(tuple(float(w) for w in weights), alpha), loo)
    assert best is not None
    return best[1], best[2]


@dataclass(frozen=True)
class TokenScheduler:
    """A fitted scheduler (see the module doc)."""

    embedding_model: str | None  # None: the bundled all-MiniLM-L6-v2
    log_tokens: Ridge
    pass_rate: Ridge
    typical_tokens: float  # median predicted tokens over the training problems
    problems: int

    def predict(self, texts: Sequence[str], embedder: Embedder | None = None) -> list[Prediction]:
        x = (embedder or sentence_embedder(self.embedding_model))(texts)
        tokens = np.exp(self.log_tokens(x))
        rates = np.clip(self.pass_rate(x), 0.0, 1.0)
        return [Prediction(float(t), float(r)) for t, r in zip(tokens, rates, strict=True)]

    def weight(self, tokens: float) -> float:
        """A problem's time weight: predicted tokens over the typical, clipped to `WEIGHT_RANGE`."""
        low, high = WEIGHT_RANGE
        return min(high, max(low, tokens / self.typical_tokens))

    def save(self, path: Path) -> None:
        record = {"schema": SCHEDULER_SCHEMA, "kind": "token_scheduler", **asdict(self)}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> TokenScheduler:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("kind") != "token_scheduler":
                raise ValueError("not a token scheduler file")
            return cls(
                embedding_model=data["embedding_model"],
                log_tokens=Ridge(tuple(data["log_tokens"]["weights"]), data["log_tokens"]["alpha"]),
                pass_rate=Ridge(tuple(data["pass_rate"]["weights"]), data["pass_rate"]["alpha"]),
                typical_tokens=float(data["typical_tokens"]),
                problems=int(data["problems"]),
            )
        except OSError as exc:
            raise DataError(f"{path}: cannot read the token scheduler ({exc.strerror})") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path}: not a token scheduler file ({exc})") from None


@dataclass(frozen=True)
class Fit:
    """A fitted scheduler with its leave-one-out predictions over the training problems."""

    scheduler: TokenScheduler
    problem_ids: tuple[str, ...]
    tokens: tuple[float, ...]  # the target: median tokens of each problem's answered samples
    loo_tokens: tuple[float, ...]

    def loo_log_error(self) -> float:
        """Mean absolute error of log tokens, leave-one-out (0.69 = off by a factor of 2 on average)."""
        return float(np.mean(np.abs(np.log(self.loo_tokens) - np.log(self.tokens))))

    def baseline_log_error(self) -> float:
        """The same for a constant guess (the leave-one-out median): what the embeddings must beat."""
        logs = np.log(self.tokens)
        errors = [abs(np.median(np.delete(logs, i)) - logs[i]) for i in range(len(logs))]
        return float(np.mean(errors))


def fit_scheduler(
    problems: Sequence[GradedProblem], embedder: Embedder | None = None, embedding_model: str | None = None
) -> Fit:
    """Fit on the problems with a text and at least one answered sample with a token count."""
    usable = [p for p in problems if p.text.strip() and p.answer_tokens()]
    if len(usable) < 3:
        raise DataError(
            f"the token scheduler needs at least 3 problems with text and answered samples, got {len(usable)}"
        )
    x = (embedder or sentence_embedder(embedding_model))([p.text for p in usable])
    tokens = np.array([float(np.median(p.answer_tokens())) for p in usable])
    rates = np.array([p.pass_rate if p.pass_rate is not None else 0.0 for p in usable])
    log_model, loo_log = fit_ridge(x, np.log(tokens))
    rate_model, _ = fit_ridge(x, rates)
    scheduler = TokenScheduler(
        embedding_model, log_model, rate_model, float(np.median(np.exp(log_model(x)))), len(usable)
    )
    return Fit(scheduler, tuple(p.problem_id for p in usable), tuple(tokens), tuple(np.exp(loo_log)))


def token_prior(path: str | None, embedder: Embedder | None = None) -> Callable[[str], float] | None:
    """The time manager's per-problem weight from a scheduler file (None: no file, fair shares)."""
    if not path:
        return None
    scheduler = TokenScheduler.load(path)
    # Loaded now, before the run's clock starts, not inside the first problem's time.
    embed = embedder or sentence_embedder(scheduler.embedding_model)

    def weight(text: str) -> float:
        (prediction,) = scheduler.predict([text], embed)
        return scheduler.weight(prediction.tokens)

    return weight
