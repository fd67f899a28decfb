"""Problem files in every supported format, and the one-line errors for malformed ones."""

from __future__ import annotations

import json

import pytest

from aimo.problems import FieldNames, ProblemFileError, load_problems, problem_from_text


def test_jsonl_with_the_shared_schema(shared_data_dir):
    problems = load_problems(shared_data_dir / "sets" / "aime2024.jsonl")
    assert len(problems) == 30
    assert all(p.text and p.answer for p in problems)
    assert len({p.id for p in problems}) == 30


def test_kaggle_csv(shared_data_dir):
    problems = load_problems(shared_data_dir / "sets" / "aimo2_reference.csv")
    assert len(problems) == 10
    assert all(p.answer is not None and p.answer.lstrip("-").isdigit() for p in problems)


def test_json_list_and_object_forms(tmp_path):
    rows = [{"question": "1+1?", "gold": 2}, {"question": "2+2?", "gold": 4, "level": 1}]
    (tmp_path / "a.json").write_text(json.dumps(rows))
    (tmp_path / "b.json").write_text(json.dumps({"problems": rows}))
    for name in ("a.json", "b.json"):
        problems = load_problems(tmp_path / name)
        assert [(p.id, p.text, p.answer) for p in problems] == [("1", "1+1?", "2"), ("2", "2+2?", "4")]
        assert problems[1].meta == {"level": 1}


def test_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"id": ["x", "y"], "problem": ["p1", "p2"], "answer": [1, 2]}), tmp_path / "p.parquet"
    )
    assert [(p.id, p.answer) for p in load_problems(tmp_path / "p.parquet")] == [("x", "1"), ("y", "2")]


def test_configurable_field_names(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_text(json.dumps({"uid": "q1", "statement": "Find x.", "solution_value": "7"}) + "\n")
    problems = load_problems(path, FieldNames(id="uid", text="statement", answer="solution_value"))
    assert (problems[0].id, problems[0].text, problems[0].answer) == ("q1", "Find x.", "7")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"problem": "ok"}\n{"problem": "broken"\n', r"bad.jsonl:2: invalid JSON"),
        ("nofield.jsonl", '{"title": "x"}\n', r"nofield.jsonl:1: no problem text"),
        ("dup.jsonl", '{"id": 1, "problem": "a"}\n{"id": 1, "problem": "b"}\n', "duplicate problem id '1'"),
        ("empty.jsonl", "\n", "no problems"),
        ("list.json", '{"x": 1}', "expected a list of problems"),
        ("bad.json", "[{", "invalid JSON"),
        ("scalar.jsonl", "42\n", "expected a JSON object"),
        ("empty.csv", "", "empty CSV"),
        ("p.txt", "hello", "unknown problem file type"),
        ("broken.parquet", "not parquet", "not a readable Parquet file"),
    ],
)
def test_malformed_files_give_one_line_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ProblemFileError, match=message) as info:
        load_problems(path)
    assert "\n" not in str(info.value)


def test_missing_file_and_empty_text():
    with pytest.raises(ProblemFileError, match="not found"):
        load_problems("/nonexistent/problems.jsonl")
    with pytest.raises(ProblemFileError, match="empty"):
        problem_from_text("   ")
