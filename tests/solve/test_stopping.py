from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimo.config import ConfigError, RunConfig
from aimo.engines.traces import load_traces
from aimo.solve.config import StrategyConfig
from aimo.solve.stopping import AgreeRule, SprtRule, UnbeatableRule, check_stop, parse_stop_rules
from aimo.solve.voting import majority

answers_st = st.lists(st.one_of(st.none(), st.sampled_from("abcd")), max_size=14)


def test_parse_combined_specs() -> None:
    rules = parse_stop_rules(" 4/4, 4/5; 5/7,6/9 ;unbeatable, sprt:p1=0.7,alpha=0.01 ; sprt")
    assert rules == [
        AgreeRule(4, 4),
        AgreeRule(4, 5),
        AgreeRule(5, 7),
        AgreeRule(6, 9),
        UnbeatableRule(),
        SprtRule(p1=0.7, alpha=0.01),
        SprtRule(),
    ]
    assert parse_stop_rules("") == [] and parse_stop_rules(" none ") == []
    assert parse_stop_rules("SPRT:futility=false") == [SprtRule(futility=False)]


@pytest.mark.parametrize(
    ("spec", "bad"),
    [
        ("4/4,5/3", "'5/3'"),
        ("4/4,banana", "'banana'"),
        ("alpha=0.1", "'alpha=0.1'"),
        ("sprt:gamma=1", "'gamma'"),
        ("sprt:p1=high", "'p1=high'"),
        ("sprt:p1=0.3", "p0 < p1"),
        ("sprt:beta=1.5", "alpha and beta"),
        ("unbeatable,none", "'none'"),
    ],
)
def test_parse_errors_name_the_bad_part(spec: str, bad: str) -> None:
    with pytest.raises(ValueError, match="stop rules") as info:
        parse_stop_rules(spec)
    assert bad in str(info.value)


@given(
    st.lists(
        st.one_of(
            st.tuples(st.integers(1, 9), st.integers(0, 9)).map(lambda kn: AgreeRule(kn[0], kn[0] + kn[1])),
            st.just(UnbeatableRule()),
            st.builds(
                SprtRule,
                p1=st.sampled_from([0.5001, 0.6, 0.75]),
                alpha=st.sampled_from([0.05, 0.01]),
                beta=st.sampled_from([0.949976, 0.05]),
                futility=st.booleans(),
            ),
        ),
        max_size=5,
    )
)
def test_specs_round_trip(rules: list) -> None:
    spec = ";".join(rule.spec for rule in rules)
    assert parse_stop_rules(spec) == rules


def test_agree_rule_looks_at_the_first_n_finished() -> None:
    rule = AgreeRule(4, 5)
    assert rule.check(["a", "a", "a", "a"], 16) is None  # not decided before the 5th
    assert rule.check(["a", "a", "b", "a", "a"], 16) == "4/5"
    assert rule.check(["a", "a", "b", "a", None], 16) is None  # no answer counts as finished
    # Decided on the first 5: later agreement does not make it fire.
    assert rule.check(["a", "b", "c", "a", "a", "a", "a"], 16) is None
    assert AgreeRule(4, 4).check(["7", "7", "7", "7"], 8) == "4/4"


def test_unbeatable() -> None:
    rule = UnbeatableRule()
    assert rule.check([], 4) is None
    assert rule.check(["a", "a", "a"], 4) == "unbeatable"  # 3 vs at most 1
    assert rule.check(["a", "a", "b"], 5) is None  # b could reach 3 and win
    # The leader appeared first, so the runner-up drawing level does not beat it.
    assert rule.check(["a", "a", "a", "b"], 6) == "unbeatable"
    # The runner-up appeared first: drawing level wins it the tie.
    assert rule.check(["b", "a", "a", "a"], 6) is None
    assert rule.check(["a", "b"], 2) == "unbeatable"  # everything is in
    assert rule.check([None, None], 3) is None


def test_sprt_defaults_mean_three_ahead() -> None:
    rule = SprtRule()
    assert rule.check(["a", "a"], 40) is None
    assert rule.check(["a", "a", "a"], 40) == "sprt"
    assert rule.check(["a", "b", "a", "a"], 40) is None
    assert rule.check(["a", "b", "a", "a", "a"], 40) == "sprt"
    assert rule.check(["a", "b", "c", "c", "a", "a", "a"], 40) is None  # 4 vs 2
    assert rule.check(["a", "b", "c", "c", "a", "a", "a", "a"], 40) == "sprt"


def test_sprt_futility_stops_on_a_close_race() -> None:
    rule = SprtRule(p1=0.7, alpha=0.05, beta=0.05)
    close = ["a", "b"] * 17  # llr = 17 * log(0.7 * 0.3 / 0.25) < log(0.05 / 0.95)
    assert rule.check(close, 40) == "sprt-futile"
    assert SprtRule(p1=0.7, alpha=0.05, beta=0.05, futility=False).check(close, 40) is None
    assert rule.check(["a"] * 9, 40) == "sprt"


def test_check_stop_reports_the_first_rule_that_fires() -> None:
    rules = parse_stop_rules("4/4,unbeatable")
    assert check_stop(rules, ["a"] * 4, 4) == "4/4"
    assert check_stop(rules, ["a", "b", "a"], 3) == "unbeatable"
    assert check_stop([], ["a"] * 9, 9) is None


@given(answers_st, st.integers(1, 8), st.integers(0, 6))
def test_agree_never_fires_before_k_answers(answers: list, k: int, extra: int) -> None:
    rule = AgreeRule(k, k + extra)
    if rule.check(answers, 20):
        assert len(answers) >= k + extra
        assert sum(a is not None for a in answers) >= k


@given(answers_st, st.integers(0, 8))
@settings(max_examples=300)
def test_unbeatable_is_exact(answers: list, more: int) -> None:
    """Stops iff no completion of the remaining samples changes the final plurality winner."""
    total = len(answers) + more
    leader = majority(answers)
    challengers = {a for a in answers if a is not None} | {"new"}
    # Concentrating every remaining vote on one rival is the strongest challenge.
    outcomes = {majority(answers + [c] * more) for c in challengers}
    stopped = UnbeatableRule().check(answers, total) is not None
    if stopped:
        assert outcomes == {leader}
    elif leader is not None:
        assert outcomes != {leader}


@given(answers_st, st.integers(0, 8))
def test_unbeatable_stop_gives_the_full_vote(answers: list, more: int) -> None:
    total = len(answers) + more
    for used in range(len(answers) + 1):
        if UnbeatableRule().check(answers[:used], total):
            # Whatever came afterwards (here: the rest of answers, then anything), the winner stays.
            assert majority(answers[:used]) == majority(answers + ["zz"] * (total - len(answers)))
            break


def test_sprt_reproduces_consol_stops(shared_data) -> None:  # type: ignore[no-untyped-def]
    """ConSol's own SPRT runs (p1=0.5001, alpha=0.05, beta=0.949976) stopped where our rule stops."""
    path = shared_data / "traces" / "consol_aime24_all_runs.jsonl"
    rules = parse_stop_rules("sprt")
    for effort in ("low", "medium", "high"):
        for problem in load_traces(path, f"o3mini{effort}-aime24-sprt-050010050949976"):
            answers = [s.answer for s in problem.samples]
            first_stop = next(n for n in range(1, len(answers) + 1) if check_stop(rules, answers[:n], 256))
            assert first_stop == len(answers), problem.problem_id


def test_unbeatable_counts_votes_the_way_the_weighted_vote_does():
    from aimo.solve.voting import VoteConfig, max_sample_weight

    answers = ["5", "5", "5", "123"]
    rule = UnbeatableRule()
    assert rule.check(answers, 6) == "unbeatable"  # raw counts: 3 vs 1 with 2 to come
    config = VoteConfig(small_number_penalty=0.5)
    weights = [0.5, 0.5, 0.5, 1.0]  # 5 is a small number: its votes count half
    # Weighted: 1.5 vs 1.0, and two more votes for 123 would make it 3.0: not settled.
    assert rule.check(answers, 6, weights, max_sample_weight(config)) is None
    assert check_stop([rule], answers, 6, weights, max_sample_weight(config)) is None


def test_strategy_config_holds_rule_objects_from_a_spec_a_toml_table_or_an_old_run_record(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('[strategy]\nstop_rules = "4/4, 4/5; sprt:p1=0.7,alpha=0.01"\n')
    rules = [AgreeRule(4, 4), AgreeRule(4, 5), SprtRule(p1=0.7, alpha=0.01)]
    assert RunConfig.load(spec).strategy.stop_rules == rules
    tables = tmp_path / "tables.toml"
    tables.write_text(
        '[[strategy.stop_rules]]\nkind = "agree"\nk = 4\nn = 5\n'
        '[[strategy.stop_rules]]\nkind = "unbeatable"\n'
        '[[strategy.stop_rules]]\nkind = "sprt"\nfutility = false\n'
    )
    strategy = RunConfig.load(tables).strategy
    assert strategy.stop_rules == [AgreeRule(4, 5), UnbeatableRule(), SprtRule(futility=False)]
    assert strategy.stop_spec == "4/5,unbeatable,sprt:futility=false"
    # A run's config.json: new runs write the objects, old ones the spec; both read back.
    assert StrategyConfig.model_validate(strategy.model_dump()) == strategy
    assert StrategyConfig.model_validate({"stop_rules": strategy.stop_spec}) == strategy
    assert StrategyConfig(stop_rules="none").stop_rules == [] == StrategyConfig().stop_rules


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('stop_rules = "4/x"', "cannot read '4/x'"),
        ('stop_rules = "5/4"', "need 1 <= k <= n"),
        ('[[strategy.stop_rules]]\nkind = "majority"', "does not match any of the expected tags"),
        ('[[strategy.stop_rules]]\nkind = "agree"\nk = 1\nn = 2\nm = 3', "strategy.stop_rules.0.agree.m"),
    ],
)
def test_a_bad_stop_rule_in_a_config_file_is_a_one_line_error(tmp_path, toml, message):
    path = tmp_path / "bad.toml"
    path.write_text(toml if toml.startswith("[[") else f"[strategy]\n{toml}\n")
    with pytest.raises(ConfigError, match=r"strategy\.stop_rules") as error:
        RunConfig.load(path)
    assert message in str(error.value) and "\n" not in str(error.value)
