"""Training throughput with 1 process vs N DDP processes: the CNN classifier and a DCGAN step on the digits.

Each configuration runs in a fresh process (``strategy="ddp"`` starts the other ranks by re-running this script),
with the per-process batch size fixed (64), so N processes train on N x 64 samples per step. Steady state only:
the clock starts at the first step of the second epoch. Reported: median milliseconds per step on rank 0, samples
per second over all processes, and the speed-up over one process with the same threads per process (on a CPU,
cores // N, what Lightning gives each DDP process). On a CPU a first row also shows one process using every core.

    python benchmarks/ddp.py                                   # CPU: 1 vs 2 processes
    python benchmarks/ddp.py --accelerator gpu --devices 4     # a 4-GPU machine: 1 vs 4 processes

On a CPU the processes share the machine's cores (Lightning gives each cores // N threads), so the speed-up
is bounded by the core count, not by N; gloo's all-reduce also runs on those cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BATCH = 64


def step_clock() -> object:
    """A Lightning callback that records the wall time of each training step from the second epoch on."""
    from lightning.pytorch import Callback

    class StepClock(Callback):
        def __init__(self) -> None:
            self.durations: list[float] = []
            self._start = 0.0

        def on_train_batch_start(self, trainer: object, *args: object) -> None:
            self._start = time.perf_counter()

        def on_train_batch_end(self, trainer: object, *args: object) -> None:
            if trainer.current_epoch >= 1:
                self.durations.append(time.perf_counter() - self._start)

    return StepClock()


def worker(model_name: str, accelerator: str, devices: int, epochs: int, out: Path) -> None:
    """Train ``model_name`` on ``devices`` processes and (rank 0) write the step times to ``out``."""
    import warnings

    import torch
    from lightning.pytorch import Trainer, seed_everything

    from illusioncraft.data.digits import DigitsDataModule
    from illusioncraft.distributed import configure_trainer_for_model
    from illusioncraft.models.classifiers import CNN
    from illusioncraft.models.gan.dcgan import DCGAN

    warnings.filterwarnings("ignore")
    seed_everything(0, verbose=False)
    if model_name == "cnn":
        data = DigitsDataModule(batch_size=BATCH, image_size=8)
        model = CNN(optimizer={"name": "adam", "lr": 0.002})
    else:
        data = DigitsDataModule(batch_size=BATCH, image_size=16, normalize=False)
        model = DCGAN()
    clock = step_clock()
    trainer = Trainer(
        accelerator=accelerator, devices=devices, strategy="ddp" if devices > 1 else "auto", max_epochs=epochs,
        limit_val_batches=0, num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[clock],
    )
    configure_trainer_for_model(trainer, model)  # find_unused_parameters for the GAN, as the CLI does
    trainer.fit(model, datamodule=data)
    if trainer.is_global_zero:
        out.write_text(json.dumps({"durations": clock.durations, "threads": torch.get_num_threads()}))


def measure(model_name: str, accelerator: str, devices: int, epochs: int, threads: int) -> dict[str, float]:
    """Run one configuration in fresh processes with ``threads`` torch threads each; median step time, throughput."""
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "result.json"
        command = [sys.executable, __file__, "--worker", model_name, "--accelerator", accelerator,
                   "--devices", str(devices), "--epochs", str(epochs), "--out", str(out)]
        environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}  # torch and Lightning both respect it
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
        result = json.loads(out.read_text())
    step = statistics.median(result["durations"])
    return {"step_ms": 1000 * step, "samples_per_s": devices * BATCH / step, "steps": len(result["durations"]),
            "threads": result["threads"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--devices", type=int, default=2, help="processes to compare with one")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run; the first is warm-up")
    parser.add_argument("--models", nargs="+", default=["cnn", "dcgan"], choices=["cnn", "dcgan"])
    parser.add_argument("--worker", choices=["cnn", "dcgan"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker(options.worker, options.accelerator, options.devices, options.epochs, options.out)
        return
    print(f"accelerator {options.accelerator}, {os.cpu_count()} CPU cores (load average {os.getloadavg()[0]:.1f}), "
          f"batch {BATCH} per process, {options.epochs} epochs (first is warm-up)")
    print(f"{'model':<7}{'processes':>10}{'threads/proc':>14}{'steps timed':>13}{'ms/step':>10}{'samples/s':>12}{'ratio':>10}")
    cores = os.cpu_count() or 1
    shared = max(1, cores // options.devices)  # what Lightning gives each DDP process on a CPU
    for model_name in options.models:
        # one process with every core; one with a DDP process's share (to separate threading from DDP); N processes
        runs = [(1, cores), (1, shared), (options.devices, shared)]
        if options.accelerator != "cpu":
            runs = [(1, shared), (options.devices, shared)]
        rows = [(n, measure(model_name, options.accelerator, n, options.epochs, threads)) for n, threads in runs]
        baseline = rows[-2][1]["samples_per_s"]  # one process with a DDP process's threads: the like-for-like base
        for devices, row in rows:
            print(f"{model_name:<7}{devices:>10}{row['threads']:>14}{row['steps']:>13}{row['step_ms']:>10.1f}"
                  f"{row['samples_per_s']:>12.0f}{row['samples_per_s'] / baseline:>9.2f}x")
    if options.accelerator == "cpu":
        print(f"caveat: {os.cpu_count()} CPU cores shared by all processes (and by anything else running); the ratio "
              "measures DDP's overhead here, not the scaling a machine with one GPU per process would show")


if __name__ == "__main__":
    main()
