"""The oracle bound on what any stop rule could save: synthetic problems, and ConSol's o3-mini-low
samples run all at once (where it shows the issue-16 goal of 60% fewer tokens is out of reach)."""

from __future__ import annotations

from typer.testing import CliRunner

from aimo.cli.app import app
from aimo.engines.traces import TraceProblem, TraceSample
from aimo.solve.bound import fewest_tokens
from aimo.solve.simulate import CONSOL_FILE, recorded_grade


def _problem(gold: str, *samples: tuple[str, int]) -> TraceProblem:
    recorded = tuple(TraceSample(answer=a, completion_tokens=t) for a, t in samples)
    return TraceProblem(gold, "a problem", gold, recorded)


# All at once the short wrong answer arrives first; the leader is right once both long ones are in.
SHORT_WRONG = _problem("7", ("7", 100), ("7", 100), ("5", 10))
# The first answer is right: nothing to wait for.
SHORT_RIGHT = _problem("3", ("3", 10), ("4", 100))


def test_the_bound_pays_for_waiting_only_where_a_right_answer_is_needed():
    problems = [SHORT_WRONG, SHORT_RIGHT]
    first_answers = 3 * 10 + 2 * 10
    assert fewest_tokens(problems, 1, None, recorded_grade).tokens == first_answers
    assert fewest_tokens(problems, 2, None, recorded_grade).tokens == 210 + 20
    # In sampling order the right answers come first: one sample each.
    assert fewest_tokens(problems, 2, 1, recorded_grade).tokens == 100 + 10


def test_the_bound_is_none_when_no_stop_gets_enough_problems_right():
    never = _problem("9", ("1", 5), ("2", 5))
    assert fewest_tokens([SHORT_WRONG, never], 2, None, recorded_grade).tokens is None


def test_no_stop_rule_saves_60_percent_on_consol_with_all_samples_at_once(shared_data):
    traces = f"{shared_data / CONSOL_FILE}#o3minilow-aime24-vote"
    args = ["simulate", "stopping", "--traces", traces, "--rules", "sprt", "--bound"]
    concurrent = CliRunner().invoke(app, [*args, "--concurrent"])
    assert concurrent.exit_code == 0, concurrent.output
    assert "at least 926,978 tokens for majority's accuracy 0.700 (53% fewer" in " ".join(
        concurrent.output.split()
    )
    pooled = CliRunner().invoke(app, [*args, "--width", "4"])
    assert "(91% fewer" in pooled.output
