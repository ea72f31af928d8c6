#!/usr/bin/env python3
"""Reproducer: the backward of a strided 1x1 convolution on a channels-last input with few
channels (the spatial stream's shortcut as a plain ``nn.Conv2d``), under oneDNN ISA caps.

    .venv/bin/python scripts/repro_onednn_heap.py                   # every case and cap
    .venv/bin/python scripts/repro_onednn_heap.py --isa default --isa AVX2 --repeats 50
    .venv/bin/python scripts/repro_onednn_heap.py --pymalloc-debug  # also PYTHONMALLOC=debug
    .venv/bin/python scripts/repro_onednn_heap.py --rates           # what each cap costs

Each (cap, case, dtype, threads) runs in its own process under ``timeout``, with
``MALLOC_CHECK_=3`` (glibc aborts at the first corrupted chunk it meets) and
``ONEDNN_VERBOSE=1``. One line each: the exit status (a signal by name), the oneDNN kernels
that ran the strided 1x1's backward-weights pass, the seconds, and the first error line.
Cases: ``conv``, the strided layer alone at the shapes the tiny and paper-size streams
give it; ``conv-subsampled``, the same through ``SubsampledConv1x1`` (the stride-1 1x1 of the
subsampled input that the models use); ``model``, training steps of the tiny agent with
``SubsampledConv1x1`` turned back into the strided ``nn.Conv2d`` it replaces;
``model-shipped``, the tiny agent as shipped. The last line is a JSON summary; rc 1 if
anything failed. ``--rates`` instead measures, under each cap, the fp32 and bf16 rates of a
1024 x 1024 matmul and a 3x3 64-channel convolution (2 threads, ``OMP_WAIT_POLICY=PASSIVE``).

Why: whether a oneDNN cap is needed for training rests on this fault reproducing on a CPU
and ISA (docs/notes/cpu-isa.md).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

# (batch, cin, cout, height, width): the tiny stream's 8 -> 16 shortcut on the padded pick
# input and the transport's key, and wider and smaller variants
CONV_SHAPES = ((2, 8, 16, 321, 160), (4, 8, 16, 384, 224), (8, 8, 16, 64, 64),
               (2, 4, 8, 321, 160), (2, 16, 32, 160, 80), (1, 64, 128, 320, 320))
ISAS = ("default", "AVX2")
CASES = ("conv", "conv-subsampled", "model", "model-shipped")
DTYPES = ("fp32", "bf16")


def child(case: str, dtype: str, threads: int, repeats: int) -> None:
    """Run one case in this process (the parent sets the environment)."""
    import torch
    from torch import nn

    from cliport_policy.models.resnet import SubsampledConv1x1

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    amp = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16")
    total = 0.0
    if case in ("conv", "conv-subsampled"):
        for b, cin, cout, h, w in CONV_SHAPES:
            conv = (nn.Conv2d(cin, cout, 1, stride=2, bias=False) if case == "conv"
                    else SubsampledConv1x1(cin, cout, stride=2))
            conv = conv.to(memory_format=torch.channels_last)
            x = torch.rand(b, cin, h, w).to(memory_format=torch.channels_last)
            for _ in range(repeats):
                with amp:
                    y = conv(x.requires_grad_())
                y.float().square().mean().backward()
                total += float(conv.weight.grad.abs().sum())
    else:
        from cliport_policy.agents import make_agent
        from cliport_policy.config import load_policy_config

        if case == "model":
            SubsampledConv1x1.forward = nn.Conv2d.forward  # the strided 1x1 as it was
        agent = make_agent(load_policy_config("tiny").model)
        agent.train()
        opt = torch.optim.Adam([p for p in agent.parameters() if p.requires_grad], lr=1e-4)
        n, h, w = 4, 320, 160
        img = torch.rand(n, 6, h, w) * 255
        cells = torch.stack([torch.randint(0, h, (n,)), torch.randint(0, w, (n,))], 1)
        rot = torch.randint(0, agent.config.place_rotations, (n,))
        for _ in range(repeats):
            with amp:
                lp, lq = agent.losses(img, ["put the red block in the blue bowl"] * n, cells,
                                      cells.flip(0), torch.zeros(n, dtype=torch.long), rot)
            opt.zero_grad(set_to_none=True)
            (lp + lq).backward()
            opt.step()
            total += float(lp + lq)
    print(f"CHECKSUM {total:.6g}", flush=True)


def rates() -> dict[str, float]:
    """GFLOP/s of a matmul and a 3x3 convolution in fp32 and bf16 (medians of 5)."""
    import statistics

    import torch

    torch.set_num_threads(2)
    n = 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    a16, b16 = a.bfloat16(), b.bfloat16()
    conv = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False).to(
        memory_format=torch.channels_last)
    x = torch.randn(1, 64, 160, 80).to(memory_format=torch.channels_last)

    def rate(fn, flop: float) -> float:
        fn()
        times = []
        for _ in range(5):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return round(flop / statistics.median(times) / 1e9, 1)

    def conv_bf16():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            conv(x)

    with torch.no_grad():
        return {"matmul_fp32": rate(lambda: a @ b, 2 * n ** 3),
                "matmul_bf16": rate(lambda: a16 @ b16, 2 * n ** 3),
                "conv3x3_fp32": rate(lambda: conv(x), 2 * 64 * 64 * 9 * 160 * 80),
                "conv3x3_bf16": rate(conv_bf16, 2 * 64 * 64 * 9 * 160 * 80)}


def _strided_1x1_bwd_weights(verbose: str) -> list[str]:
    """The kernels oneDNN ran for a strided (sh2) 1x1 (kh1) backward-weights pass."""
    out = set()
    for line in verbose.splitlines():
        f = line.split(",")
        if len(f) > 7 and f[5] == "convolution" and f[7] == "backward_weights" \
                and "kh1" in line and "sh2" in line:
            out.add(f[6])
    return sorted(out)


def run_one(isa: str, case: str, dtype: str, threads: int, repeats: int, timeout: float,
            pymalloc_debug: bool) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")}
    if isa != "default":
        env["ONEDNN_MAX_CPU_ISA"] = isa
    env.update(MALLOC_CHECK_="3", ONEDNN_VERBOSE="1", OMP_NUM_THREADS=str(threads))
    if pymalloc_debug:
        env["PYTHONMALLOC"] = "debug"
    cmd = ["timeout", "-s", "KILL", str(int(timeout)), sys.executable, __file__, "--child",
           case, "--dtype", dtype, "--threads", str(threads), "--repeats", str(repeats)]
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    rc = p.returncode
    status = ("ok" if rc == 0 else f"signal {signal.Signals(-rc).name}" if rc < 0
              else "timeout (SIGKILL)" if rc == 137 else f"rc {rc}")
    errors = [ln for ln in p.stderr.splitlines()
              if any(w in ln.lower() for w in ("corrupt", "free", "error", "fault", "abort"))]
    checksum = next((ln.split()[1] for ln in p.stdout.splitlines()
                     if ln.startswith("CHECKSUM")), None)
    return {"isa": isa, "case": case, "dtype": dtype, "threads": threads, "repeats": repeats,
            "status": status, "seconds": round(time.perf_counter() - t, 1),
            "kernels": _strided_1x1_bwd_weights(p.stdout), "checksum": checksum,
            "error": errors[-1][:160] if rc and errors else ""}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--isa", action="append", help=f"ONEDNN_MAX_CPU_ISA values; 'default' "
                    f"unsets it (repeatable; default {', '.join(ISAS)})")
    ap.add_argument("--case", action="append", choices=CASES)
    ap.add_argument("--dtype", action="append", choices=DTYPES)
    ap.add_argument("--threads", type=int, action="append")
    ap.add_argument("--repeats", type=int, default=5,
                    help="backward passes per shape, or training steps of a model case")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per child")
    ap.add_argument("--pymalloc-debug", action="store_true")
    ap.add_argument("--rates", action="store_true", help="measure rates, not faults")
    ap.add_argument("--child", choices=(*CASES, "rates"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child == "rates":
        print(json.dumps(rates()))
        return 0
    if args.child:
        child(args.child, (args.dtype or ["fp32"])[0], (args.threads or [1])[0], args.repeats)
        return 0
    if args.rates:
        out = {}
        for isa in args.isa or ISAS:
            env = {k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"}
            env.update({"ONEDNN_MAX_CPU_ISA": isa} if isa != "default" else {})
            env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLIs (cliport_policy.cli)
            p = subprocess.run([sys.executable, __file__, "--child", "rates"], env=env,
                               capture_output=True, text=True, timeout=args.timeout)
            out[isa] = json.loads(p.stdout.strip().splitlines()[-1])
            print(f"{isa:12s} {out[isa]} GFLOP/s (load {os.getloadavg()[0]:.1f})", flush=True)
        print(json.dumps(out))
        return 0
    from cliport_policy.cpu_isa import detect

    print(f"CPU: {detect()}", flush=True)
    rows = []
    for isa in args.isa or ISAS:
        for case in args.case or CASES:
            for dtype in args.dtype or DTYPES:
                for threads in args.threads or [1]:
                    row = run_one(isa, case, dtype, threads, args.repeats, args.timeout,
                                  args.pymalloc_debug)
                    rows.append(row)
                    print(f"{isa:12s} {case:15s} {dtype:4s} {threads} thr: {row['status']:18s} "
                          f"{row['seconds']:6.1f} s  kernels {','.join(row['kernels']) or '-'}"
                          f"  {row['error']}", flush=True)
    failed = [r for r in rows if r["status"] != "ok"]
    print(json.dumps({"runs": len(rows), "failed": len(failed), "rows": rows}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
