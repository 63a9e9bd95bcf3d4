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
