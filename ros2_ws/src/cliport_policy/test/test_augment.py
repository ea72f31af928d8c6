"""SE(2) augmentation keeps the labels on the same object pixels."""

from __future__ import annotations

import numpy as np
import torch

from cliport_policy.augment import augment, draw_transforms, uses_absolute_words

WORDS = ("left", "right", "top", "bottom", "front", "back", "middle")


def test_labels_follow_the_objects():
    rng = np.random.default_rng(0)
    for _ in range(20):
        img = torch.zeros(2, 6, 320, 160)
        pick = torch.tensor([[int(rng.integers(40, 280)), int(rng.integers(30, 130))]] * 2)
        place = torch.tensor([[int(rng.integers(40, 280)), int(rng.integers(30, 130))]] * 2)
        for b in range(2):
            (pu, pv), (qu, qv) = pick[b].tolist(), place[b].tolist()
            img[b, :, pu - 4:pu + 5, pv - 4:pv + 5] = 100.0  # a 9x9 "block" at the pick
            img[b, :, qu - 4:qu + 5, qv - 4:qv + 5] = 200.0  # and a "bowl" at the place
            if abs(pu - qu) < 12 and abs(pv - qv) < 12:
                img[b] = 0  # overlapping squares: skip this draw
        if img.sum() == 0:
            continue
        out, p2, q2 = augment(img, pick, place, ["put the red blocks in a blue bowl"] * 2,
                              60.0, 26.67, WORDS, rng)
        for b in range(2):
            assert out[b, 0, p2[b, 0], p2[b, 1]] > 90
            assert 190 < out[b, 0, q2[b, 0], q2[b, 1]] < 201


def test_absolute_words_are_only_translated():
    assert uses_absolute_words("put the L shape in the top left hole", WORDS)
    assert not uses_absolute_words("put the red blocks in a blue bowl", WORDS)
    cells = np.array([[[100, 50], [200, 100]]])
    thetas, shifts, moved = draw_transforms(cells, (320, 160), [False], 60.0, 20.0,
                                            np.random.default_rng(0))
    assert thetas[0] == 0
    assert np.allclose(moved[0] - cells[0], np.rint(shifts[0][::-1]), atol=1)


def test_draws_keep_labels_on_the_image():
    rng = np.random.default_rng(1)
    cells = np.array([[[2, 2], [317, 157]]] * 50)  # labels in opposite corners
    _, _, moved = draw_transforms(cells, (320, 160), [True] * 50, 60.0, 26.67, rng)
    assert (moved >= 0).all() and (moved[..., 0] < 320).all() and (moved[..., 1] < 160).all()
