"""dsnb.tasks.math: GSM8K answer extraction, number normalisation and grading."""

import random
from fractions import Fraction

import pytest

from dsnb.tasks.data import load_gsm8k
from dsnb.tasks.math import (
    extract_boxed,
    extract_gsm8k_reference,
    extract_model_answer,
    grade,
    normalize_number,
    to_fraction,
)


def test_every_shipped_reference_grades_against_itself_and_not_against_n_plus_1():
    rows = load_gsm8k()
    assert len(rows) == 200
    for row in rows:
        ref = row["reference"]
        n = Fraction(ref)  # GSM8K references are plain numbers
        bumped = str(n + 1)
        assert grade(f"Reasoning...\n#### {ref}", ref), ref
        assert grade(f"So the answer is \\boxed{{{ref}}}.", ref), ref
        assert grade(f"... #### {ref}", row["answer"])  # a full solution as reference
        assert not grade(f"Reasoning...\n#### {bumped}", ref), ref
        assert not grade(f"\\boxed{{{bumped}}}", ref), ref


def test_reference_extraction_takes_the_text_after_the_last_hashes():
    assert extract_gsm8k_reference("a\n#### 2,125") == "2125"
    assert extract_gsm8k_reference("x #### 1 \n#### 18\n") == "18"


@pytest.mark.parametrize(
    "text, boxed",
    [
        (r"\boxed{18}", "18"),
        (r"first \boxed{1}, finally \boxed{2}", "2"),
        (r"\boxed{\frac{3}{4}}", r"\frac{3}{4}"),  # nested braces
        (r"\boxed{{a}{b}{c}}", "{a}{b}{c}"),
        (r"\boxed 7.", "7"),
        (r"\boxed{18", None),  # unbalanced
        ("no box", None),
    ],
)
def test_extract_boxed(text, boxed):
    assert extract_boxed(text) == boxed


@pytest.mark.parametrize(
    "completion, answer",
    [
        (r"#### 5 and \boxed{7}", "7"),  # boxed wins
        ("so 3 + 4 = 7\n#### 8\nand 9 more", "8"),  # then ####
        ("3 + 4 = 7 apples, 10 - 4 = 6.", "6"),  # then the last number
        ("it costs $1,250.50 in total", "1,250.50"),
        ("the change is -5", "-5"),
        ("half: 1/2", "1/2"),
        ("nothing numeric", None),
    ],
)
def test_extract_model_answer_order(completion, answer):
    assert extract_model_answer(completion) == answer


@pytest.mark.parametrize(
    "text, value",
    [
        ("18", Fraction(18)),
        ("18.0", Fraction(18)),
        ("18.", Fraction(18)),
        ("018", Fraction(18)),
        ("1,000", Fraction(1000)),
        ("$1,000.50", Fraction(2001, 2)),
        (r"\$18", Fraction(18)),
        ("18 dollars", Fraction(18)),
        ("12 eggs.", Fraction(12)),
        ("-3", Fraction(-3)),
        ("3/4", Fraction(3, 4)),
        (r"\frac{3}{4}", Fraction(3, 4)),
        (r"\dfrac{3}{4}", Fraction(3, 4)),
        (r"\dfrac34", Fraction(3, 4)),
        (r"-\frac{3}{4}", Fraction(-3, 4)),
        (r"\frac{-3}{4}", Fraction(-3, 4)),
        ("0.75", Fraction(3, 4)),
        (r"\left(5\right)", Fraction(5)),
        (r"\text{18}", Fraction(18)),
        (r"18\text{ cm}", Fraction(18)),
        ("50%", Fraction(50)),
        (r"50\%", Fraction(50)),
        ("x = 5", Fraction(5)),
        ("(3/4)", Fraction(3, 4)),
        ("\u22123", Fraction(-3)),
    ],
)
def test_to_fraction_normalises_common_formats(text, value):
    assert to_fraction(text) == value


@pytest.mark.parametrize("text", ["lots", "3, 4", "5-10", "1/2/3", "", "x", None, "1" * 300])
def test_to_fraction_rejects_non_numbers(text):
    assert to_fraction(text) is None


def test_normalize_number_gives_one_string_per_value():
    assert normalize_number("18.0") == normalize_number("$18") == "18"
    assert normalize_number("0.75") == normalize_number(r"\frac{3}{4}") == "3/4"


def test_grade_compares_values_not_strings():
    assert grade(r"\boxed{\dfrac{1}{2}}", "0.5")
    assert grade("The answer is 1,000 dollars.", "1000")
    assert not grade("The answer is 1,000 dollars.", "100")
    assert not grade("no answer here", "5")
    assert grade(r"\boxed{blue}", "blue")  # non-numeric: exact string
    assert not grade(None, "5") and not grade("5", None)


# ----- a total function: 10,000 hostile completions, never an exception --------------------

GSM_PIECES = [
    "\\boxed{",
    "\\boxed ",
    "}",
    "{",
    "####",
    "\\frac{",
    "\\dfrac",
    "\\text{",
    "\\left(",
    "\\right)",
    "$",
    "%",
    "\\%",
    ",",
    ".",
    "/",
    "-",
    "+",
    "\u2212",
    " ",
    "\n",
    "x = ",
    "dollars",
    "0",
    "0/0",
    "5/0",
    "1",
    "18",
    "1,000",
    "3.5",
    "\u0663",
    "(",
    ")",
    "9" * 30,
]


def random_gsm8k_completion(rng):
    if rng.random() < 0.3:  # a near-answer: boxed / hashed / trailing, sometimes over zero
        x = rng.choice(["18", "18.0", "\\frac{36}{2}", "5/0", "0/0", "\\frac{1}{0}", "1/0.", "-0", "$18"])
        return rng.choice([f"so \\boxed{{{x}}}", f"#### {x}", f"the answer is {x}", f"\\boxed{{{x}"])
    return "".join(rng.choice(GSM_PIECES) for _ in range(rng.randint(0, 30)))


def test_grade_is_total_on_10000_random_completions():
    rng = random.Random(3)
    outcomes = {True: 0, False: 0}
    for _ in range(10_000):
        c = random_gsm8k_completion(rng)
        ref = rng.choice(["18", "0", "5", "1000", "#### 18", "3/4"])
        got = grade(c, ref)
        assert isinstance(got, bool)
        outcomes[got] += 1
        answer = extract_model_answer(c)
        assert answer is None or isinstance(answer, str)
        value = to_fraction(answer) if answer is not None else None
        assert value is None or isinstance(value, Fraction)
        if got and value is not None and to_fraction(extract_gsm8k_reference(ref)) is not None:
            assert value == to_fraction(extract_gsm8k_reference(ref))  # second method: the values agree
    assert outcomes[True] > 300 and outcomes[False] > 3000


@pytest.mark.parametrize(
    "text", ["5/0", "0/0", "\\frac{1}{0}", "\\dfrac{0}{0}", "1/0.", "\\boxed{3/0}", "#### 0/0"]
)
def test_division_by_zero_is_a_wrong_answer_not_an_exception(text):
    assert grade(text, "5") is False
    assert grade(f"the answer is {text}", "7") is False
    assert to_fraction(text.replace("\\boxed{", "").rstrip("}").replace("#### ", "")) is None
