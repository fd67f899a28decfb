"""The notebook's whole body: Kaggle's own inference server when its package is importable, else
aimo's local gateway on the test file."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

from aimo.config import RunConfig
from aimo.kaggle.gateway import GatewayReport, read_test_csv, run_gateway
from aimo.kaggle.predictor import make_predict

# The competition's server class, by competition: module in `kaggle_evaluation`, class name.
SERVER_CLASS = {
    "aimo3": ("kaggle_evaluation.aimo_3_inference_server", "AIMO3InferenceServer"),
    "aimo2": ("kaggle_evaluation.aimo_2_inference_server", "AIMO2InferenceServer"),
}
RERUN_VARIABLE = "KAGGLE_IS_COMPETITION_RERUN"


def kaggle_server_class(competition: str, input_dir: str) -> Any | None:
    """Kaggle's inference server class when `kaggle_evaluation` can be imported (from the competition's
    input directory on Kaggle); None locally."""
    if Path(input_dir).is_dir() and input_dir not in sys.path:
        sys.path.append(input_dir)
    module_name, class_name = SERVER_CLASS[competition]
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except ImportError:
        return None


def planned_for(config: RunConfig, test_csv: Path) -> RunConfig:
    """A rehearsal knows its problem count: the config with `kaggle.problems` set to the file's rows
    (unchanged when the file is not there; the gateway then says so)."""
    if not test_csv.is_file():
        return config
    rules = config.kaggle.model_copy(update={"problems": read_test_csv(test_csv).height})
    return config.model_copy(update={"kaggle": rules})


def serve(
    config: RunConfig | str | Path,
    test_csv: str | Path | None = None,
    out_dir: str | Path = ".",
    *,
    shuffle: bool = True,
    local_only: bool = False,
) -> GatewayReport | None:
    """Serve the competition with aimo's predict: on a rerun Kaggle's server answers the hidden set;
    otherwise the gateway (Kaggle's when importable, unless `local_only`) runs on `test_csv`.
    Returns aimo's gateway report when aimo's gateway ran."""
    if not isinstance(config, RunConfig):
        config = RunConfig.load(config)
    rules = config.kaggle
    server_class = None if local_only else kaggle_server_class(rules.competition, rules.input_dir)
    rerun = server_class is not None and bool(os.getenv(RERUN_VARIABLE))
    problems = Path(test_csv or rules.default_test_csv)
    if not rerun:
        config = planned_for(config, problems)
    predict = make_predict(config)  # the engine starts loading now, in the background
    try:
        if server_class is not None:
            server = server_class(predict)
            if rerun:
                server.serve()
            else:
                server.run_local_gateway((str(problems),))
            return None

        def show(problem_id: str, answer: int, seconds: float) -> None:
            print(f"{problem_id}: {answer}  ({seconds:.1f}s)", flush=True)

        report = run_gateway(
            predict,
            problems,
            out_dir,
            shuffle=shuffle,
            time_limit_s=rules.time_limit_s,
            on_answer=show,
        )
        print(report.summary(), flush=True)
        return report
    finally:
        predict.close()
