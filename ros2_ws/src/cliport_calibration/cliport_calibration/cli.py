"""``cliport-handeye``: solve, check in the simulator, print a board, merge, static TF.

    cliport-handeye sim --type eye_to_hand --camera front --out calibration/sim_front.yaml
    cliport-handeye sim --robot franka --out calibration/franka_twin_handeye.yaml
    cliport-handeye solve samples.jsonl --config handeye.yaml --out calibration/lab.yaml
    cliport-handeye board --dpi 300 --out board.png
    cliport-handeye merge calibration/front.yaml calibration/left.yaml --out cameras.yaml
    cliport-handeye static-tf calibration/lab.yaml
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import yaml

from cliport_calibration import charuco, result_file, samples
from cliport_calibration.config import METHODS, load_handeye_config
from cliport_calibration.handeye import CalibrationError, calibrate
from cliport_common.config import ConfigError

TOLERANCE_MM = 5.0
TWIN_TOLERANCE_MM = 2.0  # the Franka twin's camera (640x480, ~0.8 m from the board)
TOLERANCE_DEG = 0.5


def _sim(args) -> int:
    if args.robot == "franka":
        return _sim_franka(args)
    from cliport_calibration.sim import (
        SimCalibrationConfig,
        run_sim_calibration,
        sim_handeye_config,
    )

    cfg = SimCalibrationConfig(calibration_type=args.type, camera=args.camera,
                               n_samples=args.samples, seed=args.seed,
                               robot_noise_mm=args.robot_noise_mm,
                               robot_noise_deg=args.robot_noise_deg)
    cfg = dataclasses.replace(cfg, solver=dataclasses.replace(cfg.solver, method=args.method))
    report = run_sim_calibration(cfg)
    return _sim_result(args, report, sim_handeye_config(cfg), TOLERANCE_MM)


def _sim_franka(args) -> int:
    from cliport_calibration.sim_franka import (
        FrankaCalibrationConfig,
        run_franka_calibration,
        twin_handeye_config,
    )

    if args.type != "eye_to_hand":
        raise ValueError("the Franka twin calibrates its fixed camera: --type eye_to_hand")
    cfg = FrankaCalibrationConfig(n_samples=args.samples, seed=args.seed,
                                  robot_noise_mm=args.robot_noise_mm,
                                  robot_noise_deg=args.robot_noise_deg,
                                  rig_calibration=args.rig_calibration)
    cfg = dataclasses.replace(cfg, handeye=dataclasses.replace(
        cfg.handeye, solver=dataclasses.replace(cfg.handeye.solver, method=args.method)))
    report = run_franka_calibration(cfg)
    return _sim_result(args, report, twin_handeye_config(cfg), TWIN_TOLERANCE_MM)


def _sim_result(args, report, handeye_cfg, tolerance_mm: float) -> int:
    print(report.summary())
    if args.out:
        data = result_file.result_to_yaml(report.result, handeye_cfg,
                                          T_child_optical=report.T_child_optical,
                                          intrinsics=report.intrinsics,
                                          robot_type=report.robot_type)
        data["sim_check"] = {"translation_error_mm": round(report.translation_error_mm, 3),
                             "rotation_error_deg": round(report.rotation_error_deg, 4),
                             "seed": args.seed}
        print(f"wrote {result_file.write(args.out, data)}")
    ok = (report.translation_error_mm <= tolerance_mm
          and report.rotation_error_deg <= TOLERANCE_DEG)
    print(f"{'PASS' if ok else 'FAIL'}: {'within' if ok else 'outside'} {tolerance_mm} mm / "
          f"{TOLERANCE_DEG} deg of the true camera pose")
    return 0 if ok else 1


def _solve(args) -> int:
    cfg = load_handeye_config(args.config)
    solver = cfg.solver if not args.method else dataclasses.replace(cfg.solver, method=args.method)
    result = calibrate(samples.load(args.samples), cfg.calibration_type, solver)
    rms_mm, rms_deg = result.rms()
    for note in result.notes:
        print(note)
    print(f"{len(result.used)}/{result.n_samples} samples, residual RMS {rms_mm:.2f} mm / "
          f"{rms_deg:.3f} deg")
    out = args.out or Path("calibration") / f"{cfg.setup}.yaml"
    data = result_file.result_to_yaml(result, cfg, camera_serial=args.camera_serial,
                                      robot_type=args.robot_type)
    print(f"wrote {result_file.write(out, data)}")
    return 0


def _board(args) -> int:
    cfg = load_handeye_config(args.config).board
    ppm = args.dpi / 0.0254
    image = charuco.board_image(cfg, ppm, margin_px=round(0.01 * ppm))
    from PIL import Image

    Image.fromarray(image).save(args.out, dpi=(args.dpi, args.dpi))
    w, h = cfg.size
    print(f"wrote {args.out}: {cfg.squares_x}x{cfg.squares_y} squares of "
          f"{cfg.square_length * 1000:.1f} mm ({w * 1000:.0f} x {h * 1000:.0f} mm + 10 mm margin) "
          f"at {args.dpi} dpi. Print at 100 % scale and measure a square before calibrating.")
    return 0


def _merge(args) -> int:
    data = result_file.merge_extrinsics(args.files)
    Path(args.out).write_text("# merged by cliport-handeye merge from: "
                              + " ".join(str(f) for f in args.files) + "\n"
                              + yaml.safe_dump(data, sort_keys=False, default_flow_style=None))
    print(f"wrote {args.out}: {len(data['extrinsics'])} cameras in {data['base_frame']}")
    return 0


def _static_tf(args) -> int:
    print("ros2 run tf2_ros static_transform_publisher "
          + " ".join(result_file.static_transform_arguments(args.file)))
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="cliport-handeye", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sim", help="calibrate in the simulator and compare with the truth")
    s.add_argument("--robot", choices=["ur5", "franka"], default="ur5",
                   help="ur5: the reference scene's UR5 and cameras; franka: the Franka twin "
                        "(board on the Franka Hand, the rig's RealSense, config/handeye.yaml's "
                        "frames)")
    s.add_argument("--type", choices=["eye_to_hand", "eye_in_hand"], default="eye_to_hand")
    s.add_argument("--camera", default="front", help="reference camera (ur5, eye_to_hand)")
    s.add_argument("--rig-calibration", default="",
                   help="franka: where the twin's camera stands (default: the rig config's "
                        "calibration/franka_twin.yaml)")
    s.add_argument("--samples", type=int, default=20)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--method", choices=METHODS, default="park")
    s.add_argument("--robot-noise-mm", type=float, default=0.0)
    s.add_argument("--robot-noise-deg", type=float, default=0.0)
    s.add_argument("--out", help="write the result YAML here")
    s.set_defaults(func=_sim)
    s = sub.add_parser("solve", help="solve from a sample file (handeye_sampler writes one)")
    s.add_argument("samples")
    s.add_argument("--config", help="handeye YAML (default: the package's config)")
    s.add_argument("--method", choices=METHODS)
    s.add_argument("--out", help="default: calibration/<setup>.yaml")
    s.add_argument("--camera-serial", default="")
    s.add_argument("--robot-type", default="")
    s.set_defaults(func=_solve)
    s = sub.add_parser("board", help="write a printable ChArUco board image")
    s.add_argument("--config")
    s.add_argument("--dpi", type=float, default=300.0)
    s.add_argument("--out", default="charuco_board.png")
    s.set_defaults(func=_board)
    s = sub.add_parser("merge", help="several fixed cameras' results -> perception's "
                                     "multi-camera extrinsics file")
    s.add_argument("files", nargs="+")
    s.add_argument("--out", required=True)
    s.set_defaults(func=_merge)
    s = sub.add_parser("static-tf", help="print the static_transform_publisher command")
    s.add_argument("file")
    s.set_defaults(func=_static_tf)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (CalibrationError, ConfigError, charuco.OpenCVError, result_file.CalibrationFileError,
            samples.SampleFileError, ValueError) as exc:
        print(f"cliport-handeye: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
