"""Peak memory of estimate_mi on a memory-mapped float32 pair, each case in its own process.

A Gaussian pair with 8 coordinate pairs of correlation rho (rho^2 = 0.2), so
I(X;Y) = -4 log(1 - rho^2) = 0.8926 nats, is written in chunks to ``x.npy`` / ``y.npy`` in a
temporary folder and opened with ``np.load(mmap_mode="r")``. Each case runs in a fresh Python
process and reports its peak resident set size (``VmHWM``: anonymous memory plus the pages of
the mapped files it touched), its sampled peak of anonymous memory alone (``RssAnon`` every 20 ms:
the memory over the mapped data), the mapped-file pages resident at that moment, and its time.

Cases: ``floor`` (import neuralmi only), ``prepare`` (validate, split, preprocess: the data path),
``estimate`` (``estimate_mi`` end to end), ``dataset`` (the prepare stage of a map-style
``torch.utils.data.Dataset`` over the same files, read into float32 arrays first).

Run: ``PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python benchmarks/memory.py --n 10000000 --max-steps 300``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WIDTH = 8
RHO2 = 0.2
TRUTH = -WIDTH / 2 * math.log(1 - RHO2)
CASES = ("floor", "prepare", "estimate", "dataset")


def write_pair(folder: Path, n: int, chunk: int = 1_000_000, seed: int = 0) -> None:
    """Write x.npy, y.npy (n, 8) float32 with corr(x_k, y_k) = sqrt(0.2), chunk by chunk."""
    from numpy.lib.format import open_memmap

    rng = np.random.default_rng(seed)
    xs = open_memmap(folder / "x.npy", mode="w+", dtype=np.float32, shape=(n, WIDTH))
    ys = open_memmap(folder / "y.npy", mode="w+", dtype=np.float32, shape=(n, WIDTH))
    rho = math.sqrt(RHO2)
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        x = rng.standard_normal((b - a, WIDTH), dtype=np.float32)
        xs[a:b] = x
        ys[a:b] = rho * x + math.sqrt(1 - RHO2) * rng.standard_normal((b - a, WIDTH), dtype=np.float32)
    xs.flush()
    ys.flush()
    del xs, ys


def _mapped_pairs(x: np.ndarray, y: np.ndarray) -> object:
    """A map-style Dataset of (x_i, y_i) rows of two memory-mapped arrays (what a user's Dataset might be)."""
    from torch.utils.data import Dataset

    class MappedPairs(Dataset):
        def __len__(self) -> int:
            return len(x)

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
            return x[i], y[i]

        def __getitems__(self, idx: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
            rows = np.asarray(idx)
            return list(zip(x[rows], y[rows]))

    return MappedPairs()


def child(case: str, folder: Path, max_steps: int) -> dict[str, object]:
    """Run one case in this process; return its figures."""
    import torch

    import neuralmi
    from neuralmi.config import EstimatorConfig
    from neuralmi.estimate import prepare

    torch.set_num_threads(1)
    sampler = AnonPeak()
    x, y = np.load(folder / "x.npy", mmap_mode="r"), np.load(folder / "y.npy", mmap_mode="r")
    options = {"max_steps": max_steps, "progress": False, "seed": 0}
    start, out = time.perf_counter(), {}
    if case == "prepare":
        data = prepare(x, y, EstimatorConfig(**options))
        out = {"n_train": len(data.train[0])}
    elif case == "estimate":
        r = neuralmi.estimate_mi(x, y, **options)
        out = {"nats": r.nats, "stderr": r.stderr, "critic": r.critic_kind}
    elif case == "dataset":
        data = prepare(_mapped_pairs(x, y), None, EstimatorConfig(**options))
        out = {"n_train": len(data.train[0])}
    anon, file_at_peak = sampler.stop()
    return {
        "case": case,
        "peak_rss_mb": round(peak_rss_mb()),
        "peak_anon_mb": round(anon),
        "file_mb_at_anon_peak": round(file_at_peak),
        "seconds": round(time.perf_counter() - start, 1),
        **out,
    }


def _rss_mb() -> tuple[float, float]:
    """(RssAnon, RssFile) of this process now, in MB (0, 0 where /proc is missing)."""
    fields = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("RssAnon:", "RssFile:")):
                fields[line.split(":")[0]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return fields.get("RssAnon", 0.0), fields.get("RssFile", 0.0)


class AnonPeak:
    """Samples RssAnon (memory the process allocated, not pages of mapped files) every 20 ms in a thread; keeps the peak.

    The kernel keeps no peak of RssAnon alone (VmHWM counts mapped-file pages too), so this is a
    sampled peak: a spike shorter than the interval can be missed.
    """

    def __init__(self, interval: float = 0.02) -> None:
        import threading

        self.peak, self.file_at_peak, self._stop = 0.0, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            anon, file = _rss_mb()
            if anon > self.peak:
                self.peak, self.file_at_peak = anon, file

    def stop(self) -> tuple[float, float]:
        """Stop sampling; (peak RssAnon, RssFile at that moment) in MB."""
        self._stop.set()
        self._thread.join()
        anon, file = _rss_mb()
        if anon > self.peak:
            self.peak, self.file_at_peak = anon, file
        return self.peak, self.file_at_peak


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB: VmHWM (ru_maxrss where /proc is missing).

    ru_maxrss keeps the parent's peak across fork and exec on Linux; VmHWM belongs to this
    process's own address space.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_case(case: str, folder: Path, max_steps: int) -> dict[str, object]:
    """Run ``case`` in a fresh process (so its peak is its own) and parse its line of JSON."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--child", case, "--folder", str(folder), "--max-steps", str(max_steps)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"case": case, "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--max-steps", type=int, default=300)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--child", choices=CASES)
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.folder, args.max_steps)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_pair(folder, args.n)
        size_mb = sum(f.stat().st_size for f in folder.glob("*.npy")) / 2**20
        print(f"n = {args.n:,} x {WIDTH} float32 pairs, {size_mb:.0f} MB mapped; truth {TRUTH:.4f} nats")
        for case in args.cases.split(","):
            print(json.dumps(run_case(case, folder, args.max_steps)), flush=True)


if __name__ == "__main__":
    main()
