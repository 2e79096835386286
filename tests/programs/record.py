"""Re-record expected.json: run every corpus program under real PyTorch and store its metric.

    python tests/programs/record.py            # all programs
    python tests/programs/record.py mlp_regression makemore-gru   # only these ids
    python tests/programs/record.py --cadenza  # no recording: status table under Cadenza

--cadenza prints a Markdown table (id, status or first error line, torch value, time) for the
README."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from program_specs import (CASES, EXPECTED, first_error_line, missing_requirements,  # noqa: E402
                           run)


def main(argv):
    cadenza = "--cadenza" in argv
    only = [a for a in argv if not a.startswith("--")]
    cases = [c for c in CASES if not only or c.id in only]
    expected = {}
    if os.path.exists(EXPECTED):
        with open(EXPECTED) as f:
            expected = json.load(f)
    total = 0.0
    if cadenza:
        print("| program | check | torch | cadenza | status | seconds |")
        print("|---|---|---|---|---|---|")
    for case in cases:
        if missing_requirements(case):
            print(f"{case.id}: skipped, needs {missing_requirements(case)}", file=sys.stderr)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            r, dt, value = run(case, torch_mode=not cadenza, cwd=tmp)
        total += dt
        if cadenza:
            t = expected.get(case.id, {}).get("torch")
            if value is None:
                status = "FAIL: " + first_error_line(r).replace("|", "\\|")
            elif t is None or not case.check(value, t):
                status = f"FAIL: outcome {value:g} vs torch {t} (needs {case.tolerance()})"
            else:
                status = "pass"
            print(f"| {case.id} | {case.metric} {case.tolerance()} | {t} | "
                  f"{'' if value is None else f'{value:g}'} | {status} | {dt:.1f} |", flush=True)
            continue
        if value is None:
            print(f"{case.id}: FAILED under torch: {first_error_line(r)}\n{r.stderr[-3000:]}")
            return 1
        expected[case.id] = {"metric": case.metric, "torch": value, "torch_seconds": round(dt, 1)}
        print(f"{case.id}: {case.metric} {value} ({dt:.1f} s)", flush=True)
    print(f"total {total:.1f} s", file=sys.stderr)
    if not cadenza:
        with open(EXPECTED, "w") as f:
            json.dump(dict(sorted(expected.items())), f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
