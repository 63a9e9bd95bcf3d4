"""dsnb.tasks.countdown: the [CD1] score, answer extraction, prompts and the generator."""

import pytest

from dsnb.tasks.countdown import (
    TEMPLATES,
    Instance,
    extract_answer,
    generate,
    is_correct,
    render_prompt,
    score,
    solution_key,
    solution_multiplicity,
    solve,
)

NUMS, TARGET = [3, 7, 12], 33  # 3*7+12 = 33


# ----- [CD1], one case per branch ---------------------------------------------------------


@pytest.mark.parametrize(
    "completion, expected",
    [
        ("I think it is 3*7+12", 0.0),  # no answer tag
        ("<answer>3*7+12", 0.0),  # unclosed tag
        ("3*7+12</answer>", 0.0),  # no opening tag
        ("<answer>3*7</answer>", 0.1),  # a number missing
        ("<answer>3*7+12+3</answer>", 0.1),  # a number used twice
        ("<answer>3*7+13</answer>", 0.1),  # a foreign number
        ("<answer>3*7+12 = 33</answer>", 0.1),  # an extra number (33)
        ("<answer>(3*7+12</answer>", 0.1),  # numbers right, fails to parse
        ("<answer>3**7+12</answer>", 0.1),  # power is not allowed
        ("<answer>12/(7-7)*3</answer>", 0.1),  # numbers wrong anyway
        ("<answer>3+7+12</answer>", 0.1),  # evaluates, wrong value (22)
        ("<answer>3*7+12</answer>", 1.0),
        ("<answer>12+7*3</answer>", 1.0),
        ("<think>3*7=21, 21+12=33</think>\n<answer> (3 * 7) + 12 </answer>", 1.0),
        ("<answer>\n3*7+12\n</answer>\n", 1.0),  # whitespace and a newline after
    ],
)
def test_score_follows_the_tinyzero_branches(completion, expected):
    assert score(completion, NUMS, TARGET) == expected


def test_division_by_zero_with_the_right_numbers_scores_format_only():
    assert score("<answer>3/(7-7)</answer>", [3, 7, 7], 1) == 0.1


def test_exact_arithmetic_accepts_fraction_solutions():
    assert score("<answer>6/(1-3/4)</answer>", [1, 3, 4, 6], 24) == 1.0  # 6 / 0.25


def test_the_last_answer_block_counts():
    right_then_wrong = "<answer>3*7+12</answer> hmm, no: <answer>3+7+12</answer>"
    wrong_then_right = "<answer>3+7+12</answer> hmm, no: <answer>3*7+12</answer>"
    assert score(right_then_wrong, NUMS, TARGET) == 0.1
    assert score(wrong_then_right, NUMS, TARGET) == 1.0
    assert score("<answer>3*7+12</answer> then <answer>3+7", NUMS, TARGET) == 1.0  # unclosed last


def test_nested_tags_take_the_innermost_last_block():
    assert extract_answer("<answer>1<answer>2</answer>") == "2"
    assert extract_answer("<answer><answer>3*7+12</answer></answer>") == "3*7+12"
    assert extract_answer("<answer>1</answer><answer>") == "1"
    assert score("<answer>x <answer>3*7+12</answer>", NUMS, TARGET) == 1.0


def test_extract_answer_strips_whitespace_and_handles_non_strings():
    assert extract_answer("<answer>  3 + 4 \n</answer>") == "3 + 4"
    assert extract_answer("<answer></answer>") == ""
    assert extract_answer(None) is None and extract_answer(42) is None


def test_empty_answer_is_a_format_score():
    assert score("<answer></answer>", NUMS, TARGET) == 0.1


def test_is_correct_is_the_binary_part():
    assert is_correct("<answer>3*7+12</answer>", NUMS, TARGET)
    assert not is_correct("<answer>3+7+12</answer>", NUMS, TARGET)
    assert not is_correct("3*7+12", NUMS, TARGET)


def test_solution_key_names_the_same_solution_once():
    a = solution_key("<answer>3*7+12</answer>", NUMS, TARGET)
    b = solution_key("<answer>12+(7*3)</answer>", NUMS, TARGET)
    assert a is not None and a == b
    assert solution_key("<answer>3+7+12</answer>", NUMS, TARGET) is None
    # two different solutions of one instance get different keys: (7-2)*3-5 and 2+3*5-7
    k1 = solution_key("<answer>(7-2)*3-5</answer>", [2, 3, 5, 7], 10)
    k2 = solution_key("<answer>2+3*5-7</answer>", [2, 3, 5, 7], 10)
    assert None not in (k1, k2) and k1 != k2


def test_score_accepts_numpy_style_numbers_and_float_targets():
    assert score("<answer>3*7+12</answer>", (3, 7, 12), 33.0) == 1.0


# ----- prompts ----------------------------------------------------------------------------


def test_plain_template_is_tinyzero_verbatim():
    expected = (
        "A conversation between User and Assistant. The user asks a question, and the Assistant "
        "solves it. The assistant first thinks about the reasoning process in the mind and then "
        "provides the user with the answer.\nUser: Using the numbers [3, 7, 12], create an "
        "equation that equals 33. You can use basic arithmetic operations (+, -, *, /) and each "
        "number can only be used once. Show your work in <think> </think> tags. And return the "
        "final answer in <answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>.\n"
        "Assistant: Let me solve this step by step.\n<think>"
    )
    assert render_prompt(Instance((3, 7, 12), 33)) == expected


def test_chat_template_is_a_system_and_a_user_message():
    msgs = render_prompt(Instance((3, 7, 12), 33), "chat")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert "[3, 7, 12]" in msgs[1]["content"] and "equals 33" in msgs[1]["content"]
    assert "<answer> </answer>" in msgs[1]["content"] and "<think> </think>" in msgs[1]["content"]


def test_nano_template_is_one_compact_line():
    assert render_prompt(Instance((3, 7, 12), 33), "nano") == "3 7 12=33:"
    assert set(TEMPLATES) == {"plain", "chat", "nano"}
    with pytest.raises(ValueError, match="unknown template"):
        render_prompt(Instance((3, 7, 12), 33), "fancy")


# ----- instances and the generator --------------------------------------------------------


def test_instance_round_trips_through_a_dict():
    inst = Instance((3, 7, 12), 33)
    assert Instance.from_dict(inst.to_dict()) == inst
    assert inst.to_dict() == {"nums": [3, 7, 12], "target": 33}


def test_generator_is_deterministic_for_a_seed():
    assert generate(50, seed=7) == generate(50, seed=7)
    assert generate(50, seed=7) != generate(50, seed=8)


def test_generated_instances_are_reachable_distinct_and_in_range():
    for num_count in (3, 4):
        insts = generate(60, num_count=num_count, seed=1, max_target=100)
        assert len({i.key for i in insts}) == 60
        for inst in insts:
            assert len(inst.nums) == num_count and all(2 <= x <= 15 for x in inst.nums)
            assert 1 <= inst.target <= 100
            sols = solve(inst.nums, inst.target)
            assert sols and all(score(f"<answer>{s}</answer>", inst.nums, inst.target) == 1.0 for s in sols)


def test_generator_respects_min_solutions_and_exclude():
    held_out = generate(30, seed=2)
    train = generate(60, seed=3, min_solutions=2, exclude=held_out)
    assert not {i.key for i in train} & {i.key for i in held_out}
    assert all(solution_multiplicity(i.nums, i.target) >= 2 for i in train)


def test_generator_rejects_bad_settings_with_a_reason():
    with pytest.raises(ValueError, match="lo"):
        generate(5, lo=0)
    with pytest.raises(ValueError, match="num_count"):
        generate(5, num_count=1)
    with pytest.raises(ValueError, match="found only"):
        generate(2, num_count=2, lo=2, hi=2, max_target=3)  # only 2/2 = 1 qualifies


def test_asking_for_more_instances_than_exist_fails_after_a_bounded_number_of_draws(monkeypatch):
    import dsnb.tasks.countdown as cd

    draws = []
    real = cd._draw_target
    monkeypatch.setattr(cd, "_draw_target", lambda *a: draws.append(1) or real(*a))
    with pytest.raises(ValueError, match="seem to hold no more"):
        generate(5000, num_count=2, lo=2, hi=4, seed=0)  # a few dozen exist
    assert len(draws) < cd.STALL + 5000 < 1000 * 5000  # not 1000 x n draws


def test_a_scratchpad_before_the_answer_never_changes_the_score():
    """The countdown4m model writes its steps (numbers, operators and "|") before the answer tag:
    the score reads only the final answer block, whatever the steps say (right, wrong or garbage)."""
    from dsnb.nano import NanoConfig, render_completion
    from dsnb.tasks.registry import get_task

    cfg = NanoConfig.multi(scratchpad=True)  # the candidate with a scratchpad (docs/world_search.md)
    checked = 0
    for p in get_task("countdown4m").load("eval", 40):
        nums, target = p.columns["nums"], p.columns["target"]
        for expr in solve(nums, target)[:3]:
            full = render_completion(expr, nums, cfg)
            bare = f"<answer>{expr}</answer>"
            assert score(full, nums, target) == score(bare, nums, target) == 1.0
            assert solution_key(full, nums, target) == solution_key(bare, nums, target)
            checked += full != bare
        lying = f"{nums[0]}+{nums[1]}|{target}|{target}<answer>{nums[0]}</answer>"
        assert score(lying, nums, target) == 0.1  # the steps claim the target: no credit
    assert checked > 60
