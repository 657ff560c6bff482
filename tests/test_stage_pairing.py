"""losses.pair_stages: which student stage attention transfer matches with which teacher stage."""
from __future__ import annotations

import pytest
import torch

from ctkd_lab.losses import pair_stages
from ctkd_lab.models import build_model


def stage_shapes(arch: str, size: int = 32) -> list[torch.Size]:
    """The (B, C, H, W) shape of every stage output of ``arch`` on a ``size`` x ``size`` input."""
    torch.manual_seed(0)
    model = build_model(arch, num_classes=10).eval()
    with torch.no_grad():
        _, features = model(torch.zeros(2, 3, size, size), return_features=True)
    return [f.shape for f in features]


def test_equal_counts_pair_by_index_even_when_sizes_differ():
    assert pair_stages([(32, 32), (16, 16), (8, 8)], [(32, 32), (16, 16), (8, 8)]) == [(0, 0), (1, 1), (2, 2)]
    # today's behaviour: equal counts pair i with i; attention_losses pools the larger map
    assert pair_stages([(32, 32), (16, 16)], [(16, 16), (4, 4)]) == [(0, 0), (1, 1)]
    assert pair_stages([(8, 8)], [(2, 2)]) == [(0, 0)]


def test_equal_counts_with_real_models():
    assert pair_stages(stage_shapes("resnet8"), stage_shapes("wrn_16_1")) == [(0, 0), (1, 1), (2, 2)]


@pytest.mark.parametrize("student,teacher,expected", [
    ("vgg8", "wrn_16_1", [(0, 0), (1, 1), (2, 2)]),      # VGG 32/16/8/4/2 student, WRN 32/16/8 expert
    ("wrn_16_1", "vgg13", [(0, 0), (1, 1), (2, 2)]),     # the other way round: pairs stay (student, teacher)
    ("plain2", "resnet20", [(0, 0), (1, 1)]),            # 32/16 vs 32/16/8
    ("resnet8", "plain10", [(0, 0), (1, 1), (2, 2)]),    # 32/16/8 vs 32/16/8/4
    ("plain4", "vgg11", [(0, 0), (1, 1)]),
])
def test_different_counts_pair_by_resolution_with_real_models(student, teacher, expected):
    s_shapes, t_shapes = stage_shapes(student), stage_shapes(teacher)
    assert len(s_shapes) != len(t_shapes)
    pairs = pair_stages(s_shapes, t_shapes)
    assert pairs == expected
    for i, j in pairs:
        assert s_shapes[i][2:] == t_shapes[j][2:]


def test_vgg_student_wrn_teacher_shapes_from_a_real_forward_pass():
    s_shapes, t_shapes = stage_shapes("vgg8"), stage_shapes("wrn_16_1")
    assert [tuple(s[2:]) for s in s_shapes] == [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2)]
    assert [tuple(t[2:]) for t in t_shapes] == [(32, 32), (16, 16), (8, 8)]
    # (H, W) tuples, (C, H, W) and full (B, C, H, W) shapes all give the same pairs
    assert pair_stages([tuple(s[2:]) for s in s_shapes], [tuple(t[1:]) for t in t_shapes]) == [(0, 0), (1, 1), (2, 2)]


def test_several_partners_take_the_last_deepest():
    # the teacher has two 16x16 stages; the student's 16x16 stage pairs with the deeper one
    assert pair_stages([(32, 32), (16, 16)], [(32, 32), (16, 16), (16, 16), (8, 8)]) == [(0, 0), (1, 2)]
    assert pair_stages([(8, 8), (8, 8), (4, 4)], [(8, 8), (4, 4)]) == [(1, 0), (2, 1)]


def test_pairs_skip_unmatched_stages_of_the_longer_network():
    assert pair_stages([(16, 16), (4, 4)], [(32, 32), (16, 16), (8, 8), (4, 4)]) == [(0, 1), (1, 3)]


def test_no_partner_is_a_value_error_naming_both_sides():
    with pytest.raises(ValueError, match="no stage of that resolution") as info:
        pair_stages([(28, 28), (14, 14)], [(32, 32), (16, 16), (8, 8)])
    message = str(info.value)
    assert "28x28, 14x14" in message and "32x32, 16x16, 8x8" in message
    assert "choose architectures whose stage resolutions match" in message


def test_no_partner_with_real_models_at_another_input_size():
    # a 5-stage VGG at 32x32 against a 3-stage WRN at 28x28 share no resolution
    with pytest.raises(ValueError, match="choose architectures whose stage resolutions match"):
        pair_stages(stage_shapes("wrn_16_1", size=28), stage_shapes("vgg8", size=32))


def test_crossing_or_reused_stages_are_refused():
    with pytest.raises(ValueError, match="reuses or crosses"):
        pair_stages([(16, 16), (32, 32)], [(32, 32), (16, 16), (8, 8)])
    with pytest.raises(ValueError, match="reuses or crosses"):
        pair_stages([(16, 16), (16, 16)], [(32, 32), (16, 16), (8, 8)])


@pytest.mark.parametrize("student,teacher", [
    ([], [(8, 8)]),
    ([(8, 8)], []),
    ([(8,)], [(8, 8)]),
    ([(8, 0)], [(8, 8)]),
    ([8], [(8, 8)]),
])
def test_malformed_shapes_are_value_errors(student, teacher):
    with pytest.raises(ValueError, match="pair_stages"):
        pair_stages(student, teacher)
