"""CPU seconds of the multi-camera clustering in several source trees, alternated round by round.

    python bench/bench_clustering_trees.py --trees OLD NEW [--rounds 5] [--size 20000]
        [--linkages average mean_feature]

Each tree is a checkout of this repository (``git worktree add`` or ``git archive``); every
(round, linkage, tree) runs in a fresh process whose working directory and ``PYTHONPATH`` are
that tree, with one BLAS thread, on ``bench/bench_mtmc.py``'s synthetic traffic (that tree's
copy: 10 cameras, one hour). Times are ``time.process_time`` (CPU seconds), so a shared
machine disturbs them less than wall time; alternating the trees inside each round spreads
what disturbance remains over all of them. Printed per tree: the compatible-pair search plus
clustering, the clustering alone (both stages), its mean and ratio to the first tree, and a
digest of the labels, equal when two trees give the same partition.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def one_case(n: int, linkage: str) -> dict:
    """Run inside a tree: CPU seconds of the pair search and of the clustering, and the labels' digest."""
    from bench.bench_mtmc import scenario
    from mtmc.clustering import cluster
    from mtmc.compatibility import Timeline, compatible_pairs

    features, times, layout, _ = scenario(n, 10, 3600.0, False)
    start = time.process_time()
    pairs = compatible_pairs(times, layout, features)
    middle = time.process_time()
    labels = cluster(features, pairs, linkage, 0.5, timeline=Timeline.of(times, layout))
    end = time.process_time()
    digest = hashlib.sha256(labels.astype("int64").tobytes()).hexdigest()[:12]
    return {"pairs": middle - start, "clustering": end - middle, "labels": digest}


def run_in(tree: Path, n: int, linkage: str) -> dict:
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(tree)}
    args = [sys.executable, str(Path(__file__).resolve()), "--one", str(n), linkage]
    out = subprocess.run(args, capture_output=True, text=True, check=True, cwd=tree, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(one_case(int(sys.argv[2]), sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=Path, nargs="+", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--linkages", nargs="+", default=["average", "mean_feature"])
    args = parser.parse_args()
    runs: dict[tuple[str, Path], list[dict]] = {}
    for _ in range(args.rounds):
        for linkage in args.linkages:
            for tree in args.trees:
                runs.setdefault((linkage, tree), []).append(run_in(tree, args.size, linkage))
    print(f"CPU seconds, {args.size} tracklets, {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    print("| linkage | tree | pairs + clustering | clustering | clustering mean | ratio | labels |")
    print("|---|---|---|---|---:|---:|---|")
    for linkage in args.linkages:
        base = None
        for tree in args.trees:
            rows = runs[(linkage, tree)]
            clustering = [r["clustering"] for r in rows]
            mean = sum(clustering) / len(clustering)
            base = base or mean
            total = " / ".join(f"{r['pairs'] + r['clustering']:.2f}" for r in rows)
            each = " / ".join(f"{c:.2f}" for c in clustering)
            digests = ", ".join(sorted({r["labels"] for r in rows}))
            print(f"| {linkage} | {tree} | {total} | {each} | {mean:.2f} | {mean / base:.2f}x | {digests} |")


if __name__ == "__main__":
    main()
