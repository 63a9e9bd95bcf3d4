"""dsnb.tasks.rewards: TRL's reward-function contract on string and conversational completions."""

import pytest

from dsnb.tasks.rewards import completion_text, countdown_correct, countdown_reward, gsm8k_correct

ANSWERS = ["<answer>3*7+12</answer>", "<answer>3+7+12</answer>", "no tag at all"]
EXPECTED_SCORE = [1.0, 0.1, 0.0]  # correct, format only, nothing
NUMS = [[3, 7, 12]] * 3
TARGET = [33] * 3


def _chat(text):
    return [{"role": "assistant", "content": text}]


def test_countdown_reward_on_string_completions():
    assert countdown_reward(["p"] * 3, ANSWERS, nums=NUMS, target=TARGET) == EXPECTED_SCORE


def test_countdown_reward_on_conversational_completions():
    completions = [_chat(a) for a in ANSWERS]
    prompts = [[{"role": "user", "content": "q"}]] * 3
    assert countdown_reward(prompts, completions, nums=NUMS, target=TARGET) == EXPECTED_SCORE


def test_countdown_correct_is_binary():
    assert countdown_correct(["p"] * 3, ANSWERS, nums=NUMS, target=TARGET) == [1.0, 0.0, 0.0]


def test_extra_trl_keywords_are_ignored():
    out = countdown_reward(
        prompts=["p"] * 3,
        completions=ANSWERS,
        completion_ids=[[1]] * 3,
        nums=NUMS,
        target=TARGET,
        solutions=[1] * 3,
        trainer_state=None,
    )
    assert out == EXPECTED_SCORE


def test_each_row_uses_its_own_columns():
    out = countdown_reward(
        ["p", "p"], ["<answer>2+3</answer>", "<answer>2+3</answer>"], nums=[[2, 3], [2, 3]], target=[5, 6]
    )
    assert out == [1.0, 0.1]


def test_misaligned_columns_raise_with_a_reason():
    with pytest.raises(ValueError, match="once per completion"):
        countdown_reward(["p"] * 3, ANSWERS, nums=NUMS[:1], target=TARGET)


def test_gsm8k_correct_on_both_formats_and_both_answer_styles():
    completions = [r"so \boxed{18}", "#### 17", _chat("The answer is 18."), _chat("#### 1,000")]
    answers = ["She makes $18.\n#### 18", "18", "18", "#### 1,000"]
    assert gsm8k_correct(["q"] * 4, completions, answer=answers) == [1.0, 0.0, 1.0, 1.0]


def test_completion_text_handles_message_shapes():
    assert completion_text("plain") == "plain"
    assert completion_text({"role": "assistant", "content": "one"}) == "one"
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert completion_text(msgs) == "a"
    parts = [{"role": "assistant", "content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}]}]
    assert completion_text(parts) == "xy"
    assert completion_text(None) == ""


def test_malformed_messages_are_wrong_answers_never_exceptions():
    bad = [
        [{"role": "assistant", "content": None}],
        [{"role": "assistant", "content": 5}],
        [{"role": "assistant", "content": [{"type": "text", "text": None}]}],
        [
            {
                "role": "assistant",
                "content": [{"type": "text", "text": 5}, {"type": "text", "text": "<answer>"}],
            }
        ],
        [{"role": "assistant", "content": [None, 3.5, ["x"], {"text": ["x"]}]}],
        [None, 7, "text"],
        {"content": None},
        42,
    ]
    for c in bad:
        assert isinstance(completion_text(c), str)
    assert countdown_reward(["p"] * len(bad), bad, nums=[[3, 7, 12]] * len(bad), target=[33] * len(bad)) == [
        0.0
    ] * len(bad)
    assert gsm8k_correct(["q"] * len(bad), bad, answer=["18"] * len(bad)) == [0.0] * len(bad)
    mixed = [
        {
            "role": "assistant",
            "content": [{"type": "text", "text": None}, {"type": "text", "text": "#### 18"}],
        }
    ]
    assert gsm8k_correct(["q"], [mixed], answer=["18"]) == [1.0]  # the text parts still count


def _random_value(rng, depth=0):
    kinds = ["str", "none", "int", "float", "list", "dict", "answer"]
    kind = rng.choice(kinds if depth < 3 else kinds[:4] + ["answer"])
    if kind == "str":
        return rng.choice(["", "x", "\n", "#### 18", "\\boxed{5/0}", "0/0"])
    if kind == "answer":
        return rng.choice(["<answer>3*7+12</answer>", "<answer>3+7</answer>", "18", "\\frac{1}{0}"])
    if kind == "none":
        return None
    if kind == "int":
        return rng.randint(-5, 5)
    if kind == "float":
        return rng.choice([0.5, float("nan"), float("inf")])
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {
        rng.choice(["role", "content", "text", "type", 5]): _random_value(rng, depth + 1)
        for _ in range(rng.randint(0, 3))
    } | rng.choice([{}, {"role": "assistant"}, {"role": "user"}, {"role": None}])


def test_reward_functions_are_total_on_10000_random_message_structures():
    import random

    rng = random.Random(11)
    completions = [_random_value(rng) for _ in range(10_000)]
    n = len(completions)
    cd = countdown_reward(["p"] * n, completions, nums=[[3, 7, 12]] * n, target=[33] * n)
    tz = countdown_reward(
        ["p"] * n, completions, nums=[[3, 7, 12]] * n, target=[33] * n, tinyzero_compat=True
    )
    gs = gsm8k_correct(["q"] * n, completions, answer=["18"] * n)
    assert set(cd) <= {0.0, 0.1, 1.0} and set(tz) <= {0.0, 0.1, 1.0} and set(gs) <= {0.0, 1.0}
    assert 1.0 in cd and 0.1 in cd and 1.0 in gs  # real answers inside the junk were found
