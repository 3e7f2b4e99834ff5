"""Argument errors: one-line messages, and a `ValueError` as well as a `FerlabError`."""

import pytest

from ferlab.checks import check_batch_size, check_choice
from ferlab.data import load_dataset
from ferlab.engine import load_config
from ferlab.errors import FerlabError, OptionError


@pytest.mark.parametrize(
    "call",
    [
        lambda: check_choice("mirror", ("none", "flip"), "TTA mode"),
        lambda: check_batch_size(0),
        lambda: load_dataset("kdef", "."),
        lambda: load_config(optimizer="rmsprop"),
        lambda: load_config(schedule="step"),
    ],
)
def test_argument_errors_are_value_errors(call) -> None:
    with pytest.raises(ValueError) as raised:
        call()
    assert isinstance(raised.value, OptionError) and isinstance(raised.value, FerlabError)
    assert len(str(raised.value).splitlines()) == 1


def test_check_choice_names_the_choices() -> None:
    assert check_choice("flip", ("none", "flip"), "TTA mode") == "flip"
    with pytest.raises(OptionError, match="unknown TTA mode 'mirror': expected one of none, flip"):
        check_choice("mirror", ("none", "flip"), "TTA mode")
