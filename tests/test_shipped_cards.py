"""Every shipped model has a model card, and the card's accuracy and mean per-class recall are the
ones stored with the weights."""

import pytest
import torch

from ferlab.weights import DEFAULT_MODEL, list_shipped, model_card, shipped_path


def test_three_models_are_shipped_and_the_default_is_one_of_them() -> None:
    assert {"ferlab-wild", "ferlab-ferplus", "ferlab-fer2013"} <= set(list_shipped())
    assert DEFAULT_MODEL in list_shipped()


@pytest.mark.parametrize("name", list_shipped())
def test_card_states_the_test_accuracy_and_mean_recall_stored_with_the_weights(name: str) -> None:
    card = model_card(name).read_text()
    metrics = torch.load(shipped_path(name), map_location="cpu", weights_only=True)["metrics"]
    assert card.startswith(f"# Model card: `{name}`")
    accuracies = [key for key in metrics if key.startswith("test_accuracy")]
    assert {"test_accuracy", "test_accuracy_flip_tta"} <= set(accuracies)
    for key in accuracies:
        assert f"**{100 * metrics[key]:.2f}%**" in card, f"{model_card(name)} does not state {key}"
    assert f"**{100 * metrics['test_balanced_accuracy']:.1f}%**" in card, (
        f"{model_card(name)} does not state mean recall"
    )
