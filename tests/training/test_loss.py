import math

import pytest
import torch
import torch.nn.functional as F

from sentiment_pipeline.training.loss import SentimentWeightedLoss

LN3 = math.log(3.0)


def test_both_settings_zero_is_exactly_cross_entropy():
    torch.manual_seed(0)
    logits, labels = torch.randn(32, 2), torch.randint(0, 2, (32,))
    lengths = torch.randint(1, 500, (32,))
    loss = SentimentWeightedLoss(0.0, 0.0)(logits, labels, lengths)
    assert torch.equal(loss, F.cross_entropy(logits, labels))


def test_length_weights_hand_computed():
    # lengths 1 and 4 with a = 0.5: raw weights 1 and 2, batch mean 1.5
    loss_fn = SentimentWeightedLoss(length_weight=0.5)
    weights = loss_fn.length_weights(torch.tensor([1, 4]))
    torch.testing.assert_close(weights, torch.tensor([2 / 3, 4 / 3]))
    logits = torch.tensor([[0.0, 0.0], [0.0, LN3]])  # p(label 0) = 1/2, then 1/4
    labels = torch.tensor([0, 0])
    expected = (2 / 3 * math.log(2) + 4 / 3 * math.log(4)) / 2
    assert loss_fn(logits, labels, torch.tensor([1, 4])).item() == pytest.approx(expected, rel=1e-6)


def test_confidence_penalty_hand_computed():
    # probs [1/4, 3/4]: label 0 is a mistake made with confidence 3/4, label 1 is right
    logits = torch.tensor([[0.0, LN3], [0.0, LN3]])
    labels = torch.tensor([0, 1])
    loss_fn = SentimentWeightedLoss(confidence_penalty=2.0)
    torch.testing.assert_close(loss_fn.confidence_factors(logits, labels), torch.tensor([2.5, 1.0]))
    expected = (2.5 * math.log(4) + 1.0 * math.log(4 / 3)) / 2
    assert loss_fn(logits, labels).item() == pytest.approx(expected, rel=1e-6)


def test_penalty_grows_with_the_confidence_of_the_mistake():
    loss_fn = SentimentWeightedLoss(confidence_penalty=1.0)
    labels = torch.tensor([0, 0, 0])
    logits = torch.tensor([[0.0, 0.5], [0.0, 2.0], [0.0, 5.0]])  # ever more confidently wrong
    factors = loss_fn.confidence_factors(logits, labels)
    assert factors[0] < factors[1] < factors[2] < 2.0
    assert factors[0] > 1.5  # a mistake is only made with p(predicted) > 1/2


def test_both_settings_combined_hand_computed():
    logits = torch.tensor([[0.0, LN3], [0.0, LN3]])
    labels = torch.tensor([0, 1])
    lengths = torch.tensor([9, 1])  # a = 1: weights 9/5 and 1/5
    loss = SentimentWeightedLoss(1.0, 2.0)(logits, labels, lengths)
    expected = (9 / 5 * 2.5 * math.log(4) + 1 / 5 * 1.0 * math.log(4 / 3)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_all_equal_lengths_give_unit_weights():
    torch.manual_seed(1)
    logits, labels = torch.randn(8, 2), torch.randint(0, 2, (8,))
    lengths = torch.full((8,), 137)
    loss = SentimentWeightedLoss(length_weight=2.0)(logits, labels, lengths)
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels))


def test_batch_of_one_has_unit_length_weight():
    logits, labels = torch.tensor([[0.3, -0.2]]), torch.tensor([1])
    loss = SentimentWeightedLoss(length_weight=1.0)(logits, labels, torch.tensor([1000]))
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels))


def test_dataset_normalisation_uses_the_reference():
    lengths = torch.tensor([4, 4])  # equal in the batch, but long for the dataset
    reference = SentimentWeightedLoss.reference_for(torch.tensor([1, 1, 4, 4, 9, 9]), 0.5)  # mean(1,1,2,2,3,3)=2
    assert reference == pytest.approx(2.0)
    loss_fn = SentimentWeightedLoss(0.5, length_norm="dataset", length_reference=reference)
    torch.testing.assert_close(loss_fn.length_weights(lengths), torch.tensor([1.0, 1.0]))
    loss_fn_long = SentimentWeightedLoss(0.5, length_norm="dataset", length_reference=1.0)
    torch.testing.assert_close(loss_fn_long.length_weights(lengths), torch.tensor([2.0, 2.0]))


def test_gradients_are_finite_and_weights_act_as_constants():
    torch.manual_seed(2)
    logits = torch.randn(16, 2, requires_grad=True)
    labels = torch.randint(0, 2, (16,))
    lengths = torch.randint(1, 2000, (16,))
    loss_fn = SentimentWeightedLoss(1.0, 3.0)
    loss_fn(logits, labels, lengths).backward()
    assert torch.isfinite(logits.grad).all()
    # the gradient is each sample's cross-entropy gradient scaled by w_i * c_i / N
    scale = loss_fn.length_weights(lengths) * loss_fn.confidence_factors(logits.detach(), labels) / 16
    ce_grad = torch.softmax(logits.detach(), -1) - F.one_hot(labels, 2)
    torch.testing.assert_close(logits.grad, ce_grad * scale[:, None])


def test_extreme_logits_stay_finite():
    logits = torch.tensor([[80.0, -80.0], [-80.0, 80.0]], requires_grad=True)
    loss = SentimentWeightedLoss(1.0, 5.0)(logits, torch.tensor([1, 1]), torch.tensor([1, 3000]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"length_weight": -1.0}, ">= 0"),
        ({"confidence_penalty": -0.1}, ">= 0"),
        ({"length_norm": "epoch"}, "length_norm"),
        ({"length_weight": 1.0, "length_norm": "dataset"}, "length_reference"),
    ],
)
def test_invalid_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SentimentWeightedLoss(**kwargs)


def test_length_weight_needs_lengths():
    with pytest.raises(ValueError, match="lengths"):
        SentimentWeightedLoss(length_weight=1.0)(torch.zeros(2, 2), torch.tensor([0, 1]))
