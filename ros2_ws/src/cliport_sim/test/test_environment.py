"""The environment's gym-like loop, observation modes and step budgets (real PyBullet)."""

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from cliport_sim.action import Action
from cliport_sim.environment import Environment, SimConfig, load_sim_config
from cliport_sim.tasks import make_task

TASK = "put-block-in-bowl-seen-colors"


@pytest.fixture(scope="module")
def env():
    with Environment(make_task(TASK), load_sim_config()) as e:
        yield e


def test_reset_step_and_info_follow_the_gym_contract(env):
    obs = env.reset(4)
    assert obs.colormap.shape == (320, 160, 3) and obs.heightmap.dtype == np.float32
    assert obs.valid.mean() > 0.9
    instruction = env.lang_goal
    assert instruction.startswith("put the ") and instruction.endswith(" bowl")
    obs2, reward, done, info = env.step(None)  # no action: nothing moves, no reward
    assert reward == 0.0 and not done and info["lang_goal"] == instruction
    np.testing.assert_array_equal(obs2.heightmap, obs.heightmap)
    total, steps = 0.0, 0
    while not done:
        obs, reward, done, info = env.step(env.task.oracle(env))
        total += reward
        steps += 1
    assert total > 0.99 and steps <= env.task.max_steps
    assert info["lang_goal"] == "done placing blocks in bowls."
    assert not np.array_equal(obs.heightmap, obs2.heightmap)  # blocks moved


def test_orthographic_observation_matches_the_fused_views(env):
    ortho_env = Environment(make_task(TASK), replace(load_sim_config(), observation="orthographic"))
    try:
        views = env.reset(6)
        ortho = ortho_env.reset(6)
    finally:
        ortho_env.close()
    assert ortho.valid.all()
    # Away from height edges (2 cells), every seen cell agrees to 2 mm; at the edges the
    # slanted views add object sides and occlusions, as a real multi-camera rig does.
    h = ortho.heightmap
    edges = ndimage.maximum_filter(h, 5) - ndimage.minimum_filter(h, 5) > 0.003
    flat = views.valid & ~edges
    assert flat.mean() > 0.7
    assert np.abs(views.heightmap[flat] - h[flat]).max() < 0.002
    assert np.abs(views.colormap[flat].astype(int) - ortho.colormap[flat]).mean() < 12


def test_unknown_observation_mode_is_an_error():
    with pytest.raises(ValueError, match="observation mode"):
        Environment(make_task(TASK), SimConfig(observation="fisheye"))


def test_a_motion_out_of_budget_ends_the_episode_without_reward(env):
    env.reset(8)
    action = env.task.oracle(env)
    env.robot.budget = replace(env.robot.budget, factor=0.01, margin=1)
    try:
        _, reward, done, info = env.step(action)
    finally:
        env.robot.budget = replace(env.robot.budget, factor=2.0, margin=240)
    assert done and reward == 0.0 and info["timeout"]
    assert info["primitive"]["reason"] == "step_budget"


def test_step_hands_phases_stop_and_params_to_the_primitive(env):
    """The executor's hooks: phase callbacks, a stop predicate, parameter overrides."""
    env.reset(8)
    action = env.task.oracle(env)
    phases: list[str] = []
    _, reward, done, info = env.step(action, on_phase=phases.append,
                                     should_stop=lambda: phases[-1] == "transfer")
    assert phases == ["approach", "descend", "grasp", "lift", "transfer"]
    assert done and reward == 0.0 and info["primitive"]["reason"] == "stopped"
    slow, fast = [], []
    for speed, log in ((0.01, fast), (0.005, slow)):
        env.reset(8)
        start = env.robot.sim_steps
        env.step(env.task.oracle(env), params={"speed": speed})
        log.append(env.robot.sim_steps - start)
    assert slow[0] > fast[0] * 1.3  # lift, transfer and place at half the speed


def test_actions_are_validated():
    with pytest.raises(ValueError, match="primitive"):
        Action(((0.5, 0, 0), (0, 0, 0, 1)), ((0.5, 0, 0), (0, 0, 0, 1)), "throw")
    with pytest.raises(ValueError, match="non-finite"):
        Action(((float("nan"), 0, 0), (0, 0, 0, 1)), ((0.5, 0, 0), (0, 0, 0, 1)))


def test_objects_render_in_the_colour_the_instruction_names(env):
    from cliport_sim.colors import COLORS

    env.reset(12)
    pick_color = env.lang_goal.split()[2]  # "put the {pick} blocks in a {place} bowl"
    block = env.task.goals[0].objects[0]
    assert env.color_of(block)[:3] == pytest.approx([c / 255 for c in COLORS[pick_color]])
    maps = env.oracle_maps()
    seen = maps.colormap[maps.segmentation == block].mean(axis=0)
    assert np.abs(seen - COLORS[pick_color]).max() < 25  # lit, so not exactly the palette


def test_closing_one_environment_leaves_another_rendering():
    # The EGL plugin's context is process-wide: only one live client may use it.
    a = Environment(make_task(TASK), SimConfig(observe=False))
    b = Environment(make_task(TASK), SimConfig(observe=False))
    try:
        assert not (a.egl and b.egl)
        a.reset(6)
        b.reset(6)
        b.close()
        a.reset(12)
        seen = set(np.unique(a.oracle_maps().segmentation))
        assert set(a.obj_ids["rigid"] + a.obj_ids["fixed"]) <= seen
    finally:
        a.close()
        b.close()


def test_temporary_urdfs_are_deleted_once_loaded(env, tmp_path):
    from cliport_sim import assets

    env.reset(2)
    urdf = assets.box_urdf((0.05, 0.05, 0.05), (1, 0, 0, 1))
    body = env.add_object(urdf, ((0.5, 0.0, 0.025), (0, 0, 0, 1)), temporary=True)
    assert body in env.obj_ids["rigid"] and not urdf.exists()
    with pytest.raises(RuntimeError, match="cannot load"):
        env.add_object(tmp_path / "missing.urdf", ((0.5, 0.0, 0.1), (0, 0, 0, 1)))
