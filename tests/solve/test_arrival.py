"""Stop rules replayed through a pool of samples running at once; DeepConf online on recorded logprobs;
reward-model votes on math_cot's recorded scores; the ConSol goal of a bounded pool."""

from __future__ import annotations

from typer.testing import CliRunner

from aimo.cli.app import app
from aimo.engines.traces import TraceProblem, TraceSample, load_traces
from aimo.solve.arrival import replay_problem
from aimo.solve.confidence import OnlineConfidence
from aimo.solve.simulate import CONSOL_FILE, replay_rule
from aimo.solve.stopping import parse_stop_rules
from aimo.solve.voting import VoteConfig

SURE = [-0.01, -6.0, -7.0]
UNSURE = [-0.7, -0.8, -1.0]


def _recorded(answer: str, position: list[float], tokens: int = 20) -> TraceSample:
    """A recorded sample whose every token has the top log-probabilities `position`."""
    return TraceSample(answer=answer, meta={"logprobs": [position] * tokens})


# Two sure samples: with a run-wide warm-up of 2 they set the threshold for the problems after.
WARMUP = TraceProblem("a", "q", "7", (_recorded("7", SURE), _recorded("7", SURE)))
RUN_WIDE = OnlineConfidence(warmup=2, keep=90, window=4, scope="run")


def _problem(*samples: tuple[str, int]) -> TraceProblem:
    recorded = tuple(TraceSample(answer=a, completion_tokens=t) for a, t in samples)
    return TraceProblem("p", "a problem", "7", recorded)


def test_width_one_is_sampling_order_and_full_width_is_shortest_first():
    # Two short wrong answers come last in sampling order; three long right ones first.
    problem = _problem(("7", 100), ("7", 100), ("7", 100), ("5", 10), ("5", 10))
    rules = parse_stop_rules("2/2")
    sequential = replay_problem(problem, rules, width=1)
    assert (sequential.answer, sequential.used, sequential.tokens) == ("7", 2, 200)
    concurrent = replay_problem(problem, rules, width=5)
    # The two short ones arrive first and agree: stop at t=10, every sample paid 10 tokens.
    assert (concurrent.answer, concurrent.used, concurrent.tokens) == ("5", 2, 50)


def test_a_pool_starts_the_next_sample_when_one_ends_and_pays_running_ones_up_to_the_stop():
    problem = _problem(("7", 30), ("7", 10), ("7", 50), ("5", 100))
    # Width 2: 0 [0,30], 1 [0,10], 2 [10,60], 3 [30,130]; "2/2" stops at t=30 with answers of 1 and 0.
    replayed = replay_problem(problem, parse_stop_rules("2/2"), width=2)
    assert (replayed.answer, replayed.used) == ("7", 2)
    assert replayed.tokens == 30 + 10 + 20 + 0


def test_online_confidence_cuts_unsure_traces_after_the_warmup_and_they_do_not_vote():
    problem = TraceProblem(
        "p", "q", "7", (_recorded("7", SURE, 20), _recorded("7", SURE, 20), _recorded("5", UNSURE, 40))
    )
    online = OnlineConfidence(warmup=2, keep=90, window=4)
    replayed = replay_problem(problem, [], width=1, online=online)
    assert (replayed.answer, replayed.used, replayed.cut) == ("7", 2, 1)
    assert replayed.tokens == 20 + 20 + 4  # the unsure trace is cut at its first full window
    # Run all at once, the unsure one is still running when the threshold comes (t=20): cut there.
    concurrent = replay_problem(problem, [], width=3, online=online)
    assert concurrent.cut == 1 and concurrent.tokens == 20 + 20 + 21


def test_first_window_triage_cuts_the_less_sure_half_one_window_in_not_on_later_dips():
    dips_late = TraceSample(answer="7", meta={"logprobs": [SURE] * 4 + [UNSURE] * 16})
    problem = TraceProblem(
        "p", "q", "7", (_recorded("7", SURE), dips_late, _recorded("5", UNSURE), _recorded("5", UNSURE))
    )
    triage = OnlineConfidence(warmup=8, keep=50, window=4, warmup_on="first_window")
    at_once = replay_problem(problem, [], width=4, online=triage)
    # All four report their first window at t=4; the threshold (their median) cuts both unsure ones.
    assert (at_once.answer, at_once.cut, at_once.tokens) == ("7", 2, 20 + 20 + 4 + 4)
    # One at a time the warm-up (all 4 samples, the most a problem has) ends with the last one's window.
    one_by_one = replay_problem(problem, [], width=1, online=triage)
    assert (one_by_one.cut, one_by_one.tokens) == (1, 20 + 20 + 20 + 4)
    finished = replay_problem(problem, [], width=4, online=OnlineConfidence(warmup=2, keep=50, window=4))
    assert finished.cut == 0  # DeepConf's warm-up ends when the samples do: nothing left to cut


def test_online_run_scope_sets_one_threshold_from_the_first_problems_for_all_after():
    second = TraceProblem("b", "q", "7", (_recorded("7", SURE), _recorded("5", UNSURE)))
    online = OnlineConfidence(warmup=2, keep=90, window=4)
    per_problem = replay_rule([WARMUP, second], "", online=online)
    run_wide = replay_rule([WARMUP, second], "", online=RUN_WIDE)
    assert per_problem.tokens == 80 and per_problem.samples == 4  # each problem's warm-up is all it has
    assert run_wide.tokens == 40 + 20 + 4 and run_wide.samples == 3  # b's unsure trace cut at 4 tokens
    assert "scope=run" in run_wide.rule


def test_online_never_cuts_the_last_running_sample_of_a_problem_without_an_answer():
    unsure = TraceProblem(
        "b", "q", "5", (_recorded("5", UNSURE), _recorded("4", UNSURE), _recorded("5", UNSURE))
    )
    all_at_once = replay_rule([WARMUP, unsure], "", width=3, online=RUN_WIDE)
    # Two of b's samples are cut at their first window; the third, the last hope, runs to its answer.
    assert all_at_once.tokens == 40 + 4 + 4 + 20 and all_at_once.samples == 3 and all_at_once.correct == 2


def test_online_in_sampling_order_cuts_unsure_samples_while_more_are_to_start():
    late_sure = TraceProblem(
        "b", "q", "5", (_recorded("4", UNSURE), _recorded("4", UNSURE), _recorded("5", SURE))
    )
    one_at_a_time = replay_rule([WARMUP, late_sure], "", width=1, online=RUN_WIDE)
    # The first unsure sample is not b's last hope (two more are to start): cut like the second.
    assert one_at_a_time.tokens == 40 + 4 + 4 + 20 and one_at_a_time.correct == 2


def test_reward_model_votes_on_recorded_scores_beat_majority(shared_data):
    problems = load_traces(shared_data / "traces" / "math_cot_100.jsonl")
    majority = replay_rule(problems, "")
    weighted = replay_rule(problems, "", vote=VoteConfig(reward="weighted"))
    best = replay_rule(problems, "", vote=VoteConfig(reward="best"))
    assert majority.accuracy == 0.93  # the file's own maj@8, graded by its recorded grades
    assert weighted.accuracy == best.accuracy == 0.94


def test_a_pool_of_four_with_sprt_meets_the_consol_goal(shared_data):
    problems = load_traces(f"{shared_data / CONSOL_FILE}#o3minilow-aime24-vote")
    majority = replay_rule(problems, "")
    pooled = replay_rule(problems, "sprt", width=4)
    assert pooled.accuracy >= majority.accuracy
    assert pooled.tokens <= 0.4 * majority.tokens


def test_simulate_stopping_cli_takes_width_vote_and_online(shared_data):
    traces = str(shared_data / "traces" / "math_cot_100.jsonl")
    args = ["simulate", "stopping", "--traces", traces, "--rules", "", "--width", "4"]
    done = CliRunner().invoke(app, [*args, "--vote", "reward=best"])
    assert done.exit_code == 0, done.output
    assert "majority@8 vote[reward=best] (width 4)" in done.output and "0.940" in done.output
    bad = CliRunner().invoke(app, [*args, "--online", "warmup=many"])
    assert bad.exit_code != 0 and "could not convert" in bad.output
    bad_scope = CliRunner().invoke(app, [*args, "--online", "scope=everything"])
    assert bad_scope.exit_code != 0 and "online scope must be" in bad_scope.output
    run_triage = CliRunner().invoke(app, [*args, "--online", "warmup_on=first_window,scope=run"])
    assert run_triage.exit_code != 0 and "needs scope=problem" in run_triage.output
