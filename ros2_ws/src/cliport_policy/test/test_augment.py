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


def _square_yaw(mask: np.ndarray) -> float:
    """Yaw (rad, folded by 90 deg into [-45, 45)) of a square's sides from its cells: the
    corners lie farthest from the centre, at the sides' yaw + 45 deg."""
    u, v = np.nonzero(mask)
    dx, dy = v - v.mean(), u - u.mean()
    z = np.sum(np.hypot(dx, dy) ** 4 * np.exp(4j * np.arctan2(dy, dx)))
    return ((np.angle(z) + np.pi) / 4 + np.pi / 4) % (np.pi / 2) - np.pi / 4


def _block_mask(img: torch.Tensor, cell, top: float) -> np.ndarray:
    """The picked block's cells: within 3 cm of ``cell`` and within 5 mm of its top."""
    h = img[3].numpy()
    u, v = np.mgrid[0:h.shape[0], 0:h.shape[1]]
    near = np.hypot(u - int(cell[0]), v - int(cell[1])) <= 15
    return near & (np.abs(h - top) < 0.005)


def test_a_twin_demos_grasp_yaw_turns_with_the_image(twin_demos):
    """A real twin demo turned by a known angle: the pick bin moves by that angle folded by
    half a turn, and the bin's yaw still grips the block's sides as the image shows them."""
    from cliport_policy.augment import augment_grasp
    from cliport_policy.data import all_samples, collate
    from cliport_policy.poses import pick_yaw

    demos = twin_demos(1)
    k = 12
    batch = collate([(0, demos.sample(e, s)) for _, e, s in all_samples([demos])],
                    pick_rotations=k)
    n = len(batch.instructions)
    words = ("left",)
    for seed in range(6):
        rng = np.random.default_rng(seed)
        replay = np.random.default_rng(seed)
        cells = np.stack([batch.pick.numpy(), batch.place.numpy()], axis=1)
        thetas, _, _ = draw_transforms(cells, (320, 160), [True] * n, 60.0, 10.0, replay)
        img, pick, _, bins = augment_grasp(batch.img, batch.pick, batch.place, batch.pick_yaw,
                                           k, batch.instructions, 60.0, 10.0, words, rng)
        for j in range(n):
            moved = pick_yaw(int(bins[j]), k) - pick_yaw(int(batch.pick_rot[j]), k)
            assert abs(_fold(moved + thetas[j], np.pi)) <= np.pi / k + 1e-6
            top = float(batch.img[j, 3, batch.pick[j, 0], batch.pick[j, 1]])
            before = _square_yaw(_block_mask(batch.img[j], batch.pick[j], top))
            after = _square_yaw(_block_mask(img[j], pick[j], top))
            assert abs(_fold(after - before + thetas[j], np.pi / 2)) < np.radians(4)
            assert abs(_fold(pick_yaw(int(bins[j]), k) - after, np.pi / 2)) <= (
                np.pi / k / 2 + np.radians(4))


def _fold(a: float, period: float) -> float:
    return (a + period / 2) % period - period / 2
