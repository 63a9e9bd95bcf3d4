"""How fast do the theory slider apps respond? Goal: well under 100 ms per slider move at N = 1000.

Run: python benchmarks/bench_theory_sliders.py [--n 1000] [--repeat 5]
Prints, per slider, the median time of a full response (recompute with dsnb.theory, rebuild
the figures, copy them into the FigureWidgets) and its split into compute and redraw. On a
busy machine wall time inflates; the process CPU time next to it is the steadier number.
No frontend is attached, so the time the browser takes to paint is not included.
"""

import argparse
import statistics
import time

from dsnb import theory
from dsnb.theory.apps import _sync, sharpening_app, smoothing_app

MOVES = {
    "sharpening": [
        ("group_size", 4, 8),
        ("steps", 300, 150),
        ("lr", 1.0, 0.5),
        ("skew", 1.5, 1.0),
        ("n_correct", 20, 10),
    ],
    "smoothing": [
        ("kappa", 0.6, 0.3),
        ("beta", 2.0, 0.5),
        ("gamma_p", 0.5, 0.2),
        ("gamma_n", 0.3, 0.0),
        ("entropy_coef", -0.2, 0.2),
    ],
}


def median_ms(fn, repeat, clock=time.perf_counter):
    times = []
    for _ in range(repeat):
        t = clock()
        fn()
        times.append(1000 * (clock() - t))
    return statistics.median(times)


def bench(app, moves, repeat):
    for name, a, b in moves:
        slider = app.sliders[name]
        toggle = iter([a, b] * (2 * repeat))

        def move(s=slider, t=toggle):
            s.value = next(t)

        total = median_ms(move, repeat)
        cpu = median_ms(move, repeat, time.process_time)
        compute = median_ms(lambda: app.compute(app.values), repeat)
        figs, _ = app.compute(app.values)
        redraw = median_ms(lambda f=figs: [_sync(app.figures[k], v) for k, v in f.items()], repeat)
        print(
            f"  {name:13s} total {total:6.1f} ms (CPU {cpu:6.1f} ms)   compute+figures "
            f"{compute:6.1f} ms   copy into widgets {redraw:5.1f} ms"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="trajectories per prompt")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for label, make in (("sharpening", sharpening_app), ("smoothing", smoothing_app)):
        t = time.perf_counter()
        app = make(n=args.n)
        print(f"{label}_app(n={args.n}): built in {1000 * (time.perf_counter() - t):.0f} ms")
        bench(app, MOVES[label], args.repeat)
    logp, correct = theory.zipf_space(args.n, 20, 1.0)
    print(
        f"frontier alone: {median_ms(lambda: theory.frontier(logp, correct, 0.3), 5):.1f} ms; "
        f"simulate 150 sampled steps: "
        f"{median_ms(lambda: theory.simulate(logp, correct, 'grpo', 150, 8, 0.5), 5):.1f} ms"
    )


if __name__ == "__main__":
    main()
