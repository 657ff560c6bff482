"""`make gpu-check`: what to run first on a CUDA machine, to see that the kit's GPU path means what its
CPU path means. Six parts, each one line, then one summary (exit 1 if a part failed):

    tests        the GPU-relevant tests with CTKD_TEST_DEVICE=cuda (conftest leaves the GPUs visible):
                 eval equals metrics.json under bf16, quantizers in fp32 under CUDA bf16 autocast, no host
                 reads in a CMT-KD step, determinism, deterministic resizing
    methods      one epoch of every method on digits, bf16 and --deterministic (a 1-epoch guide teaches the
                 methods that need a teacher)
    host syncs   a CMT-KD epoch (LSQ quantizers) under torch.cuda.set_sync_debug_mode("warn"): the CUDA
                 syncs per step, expected none (the logging points are left out)
    resume       tests/test_resume.py on CUDA: a killed --deterministic run resumes to the exact metrics
    torchrun     two processes with nccl (needs 2 GPUs): one epoch, finished, one run folder
    throughput   training images/s of every method, channels_last on/off x bf16/fp32 (table)

On a machine without a CUDA GPU every part prints one "skipped" line and the script exits 0 (a test
checks this). Budget: under five minutes on one GPU (the parts print their own seconds).

    python scripts/gpu_check.py                 # all parts
    python scripts/gpu_check.py --parts methods,throughput
"""
from __future__ import annotations

import os

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before CUDA starts: the --deterministic runs

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PARTS = ("tests", "methods", "host syncs", "resume", "torchrun", "throughput")
GPU_TESTS = ["tests/test_precision.py", "tests/test_quant.py", "tests/test_host_sync.py", "tests/test_determinism.py",
             "tests/test_resample.py"]
#: one epoch on digits: small enough for a whole check in minutes, big enough for every method's step
BASE = dict(model="resnet8", dataset="digits", batch_size=64, epochs=1, device="cuda", threads=1)


class Outcome:
    def __init__(self, status: str, detail: str):
        self.status, self.detail = status, detail


def _python_env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def _pytest(paths: list[str], *flags: str) -> Outcome:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *flags, *paths]
    done = subprocess.run(cmd, cwd=REPO, env=_python_env(CTKD_TEST_DEVICE="cuda"), capture_output=True, text=True)
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    if done.returncode != 0:
        sys.stdout.write(done.stdout[-4000:])
    return Outcome("ok" if done.returncode == 0 else "FAILED", last)


def part_tests(work: Path) -> Outcome:
    return _pytest(GPU_TESTS, "-m", "not browser")


def part_resume(work: Path) -> Outcome:
    return _pytest(["tests/test_resume.py"])


def _guides(work: Path) -> dict[str, dict]:
    """Each method's options for a one-epoch run: a 1-epoch vanilla guide (and a copy: DGKD needs two)."""
    from ctkd_lab.train import train

    guide, twin = work / "guide", work / "guide-twin"
    if not guide.exists():
        train(out=guide, quiet=True, method="vanilla", precision="bf16", deterministic=True, **BASE)
        shutil.copytree(guide, twin)
    teacher = {"teacher": str(guide)}
    expert = {"expert": str(guide)}
    return {"kd": teacher, "at": teacher, "fitnet": teacher, "takd": teacher, "dgkd": {"teachers": f"{guide},{twin}"},
            "ctkd": expert, "ctkd-expert": expert, "cmtkd": {"teacher_bits": "8,4"}}


def part_methods(work: Path) -> Outcome:
    from ctkd_lab.methods import method_names
    from ctkd_lab.train import train

    options = _guides(work)
    failed, accs = [], []
    for name in method_names():
        try:
            m = train(out=work / f"method-{name}", quiet=True, method=name, precision="bf16", deterministic=True,
                      options=options.get(name, {}), **BASE)
            accs.append(f"{name} {m[m['primary']]['test_acc']:.2f}")
        except Exception as err:  # noqa: BLE001 - every method is tried; the failures are the report
            failed.append(f"{name}: {type(err).__name__}: {str(err).splitlines()[0][:160]}")
            traceback.print_exc()
    if failed:
        return Outcome("FAILED", "; ".join(failed))
    return Outcome("ok", f"{len(accs)} methods, 1 epoch each, bf16 + --deterministic (test acc: {', '.join(accs)})")


class _Bar:
    def update(self, n):
        pass


def _epoch_only(trainer) -> None:
    """Make ``trainer._train_epoch`` run the step loop alone: the logging points (which read values back
    by design) and the end-of-epoch evaluation become no-ops."""
    trainer._log_window = lambda *a, **k: None
    trainer._end_epoch = lambda *a, **k: None


def _close(trainer) -> None:
    getattr(trainer, "close", lambda: None)()


def part_host_syncs(work: Path) -> Outcome:
    from ctkd_lab.train import TrainConfig, Trainer

    options = {"teacher_bits": "8,4", "student_bits": 2, "weight_quantizer": "lsq", "act_quantizer": "lsq"}
    trainer = Trainer(TrainConfig(method="cmtkd", precision="bf16", log_every=10**6, options=options, **BASE),
                      out=work / "syncs", quiet=True)
    try:
        _epoch_only(trainer)
        trainer._train_epoch(_Bar())  # the first epoch initialises (LSQ steps from the first batch)
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                trainer._train_epoch(_Bar())
            finally:
                torch.cuda.set_sync_debug_mode(0)
    finally:
        _close(trainer)
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    steps = len(trainer.train_loader)
    where = f"; first at {syncs[0].filename}:{syncs[0].lineno}" if syncs else ""
    return Outcome("ok" if not syncs else "FAILED",
                   f"{len(syncs)} CUDA syncs in a CMT-KD epoch of {steps} steps{where}")


def part_torchrun(work: Path) -> Outcome:
    gpus = torch.cuda.device_count()
    if gpus < 2:
        return Outcome("skipped", f"needs 2 GPUs, {gpus} visible")
    out = work / "torchrun"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "ctkd_lab",
           "train", "--method", "kd", "--teacher", str(work / "guide"), "--model", "resnet8", "--dataset", "digits",
           "--epochs", "1", "--batch-size", "64", "--device", "cuda", "--quiet", "--out", str(out)]
    if not (work / "guide").exists():
        _guides(work)
    done = subprocess.run(cmd, cwd=REPO, env=_python_env(), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return Outcome("FAILED", f"exit {done.returncode}: {(done.stderr.strip().splitlines() or [''])[-1][:200]}")
    metrics = json.loads((out / "metrics.json").read_text())
    resolved = json.loads((out / "config.json").read_text())["resolved"]
    ok = metrics["finished"] and resolved["processes"] == 2 and resolved["backend"] == "nccl"
    return Outcome("ok" if ok else "FAILED", f"2 processes, {resolved['backend']}, finished {metrics['finished']}, "
                                             f"student test acc {metrics['student']['test_acc']:.3f}")


def _images_per_s(work: Path, name: str, options: dict, channels_last: bool, precision: str) -> float:
    from ctkd_lab.train import TrainConfig, Trainer

    config = TrainConfig(method=name, precision=precision, channels_last=channels_last, log_every=10**6,
                         options=options, **{**BASE, "batch_size": 128})
    trainer = Trainer(config, out=work / f"tp-{name}-{int(channels_last)}-{precision}", quiet=True)
    try:
        _epoch_only(trainer)
        trainer._train_epoch(_Bar())  # warm-up: cudnn.benchmark times each conv shape once
        torch.cuda.synchronize()
        start = time.perf_counter()
        trainer._train_epoch(_Bar())
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        return len(trainer.train_loader) * trainer.batch_per_process / seconds
    finally:
        _close(trainer)


def part_throughput(work: Path) -> Outcome:
    from ctkd_lab.methods import method_names

    options = _guides(work)
    torch.backends.cudnn.benchmark = True  # as a run without --deterministic
    combos = [(True, "bf16"), (True, "fp32"), (False, "bf16"), (False, "fp32")]
    header = ["method"] + [f"{'cl' if cl else 'nchw'}+{p}" for cl, p in combos]
    rows = []
    for name in method_names():
        rows.append([name] + [f"{_images_per_s(work, name, options.get(name, {}), cl, p):,.0f}" for cl, p in combos])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("training images/s, resnet8 on digits (32 px), batch 128, one GPU (cl: channels_last):")
    for row in [header, *rows]:
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return Outcome("ok", f"{len(rows)} methods x {len(combos)} settings (table above)")


FUNCTIONS = {"tests": part_tests, "methods": part_methods, "host syncs": part_host_syncs, "resume": part_resume,
             "torchrun": part_torchrun, "throughput": part_throughput}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated, from: {', '.join(PARTS)} (default: all)")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in parts if p not in FUNCTIONS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    cuda = torch.cuda.is_available()
    gpus = torch.cuda.device_count() if cuda else 0
    build = torch.version.cuda or "none (a CPU build)"
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(gpus)) if gpus else "no CUDA GPU visible"
    print(f"gpu-check: torch {torch.__version__}, CUDA build {build}; {names}")
    results = []
    start_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ctkd-gpu-check-") as tmp:
        work = Path(tmp)
        for part in parts:
            start = time.perf_counter()
            if not cuda:
                outcome = Outcome("skipped", "no CUDA GPU visible (run it on a machine with one)")
            else:
                try:
                    outcome = FUNCTIONS[part](work)
                except Exception as err:  # noqa: BLE001 - one part failing does not stop the others
                    traceback.print_exc()
                    first = (str(err).splitlines() or [""])[0][:200]
                    outcome = Outcome("FAILED", f"{type(err).__name__}: {first}")
            seconds = time.perf_counter() - start
            results.append((part, outcome, seconds))
            timing = f" ({seconds:.0f} s)" if outcome.status != "skipped" else ""
            print(f"{part:<11} {outcome.status}: {outcome.detail}{timing}", flush=True)
    counts = {s: sum(o.status == s for _, o, _ in results) for s in ("ok", "FAILED", "skipped")}
    print(f"summary: {counts['ok']} ok, {counts['FAILED']} failed, {counts['skipped']} skipped "
          f"in {time.perf_counter() - start_all:.0f} s")
    return 1 if counts["FAILED"] else 0


if __name__ == "__main__":
    sys.exit(main())
