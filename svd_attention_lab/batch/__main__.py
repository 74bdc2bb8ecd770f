import sys

from ._cli import batch_main, report_main

if __name__ == "__main__":
    command, *rest = sys.argv[1:] or ["--help"]
    if command not in ("run", "report"):
        print("usage: python -m svd_attention_lab.batch run PLAN [options] | "
              "python -m svd_attention_lab.batch report RESULTS [options]", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit((batch_main if command == "run" else report_main)(rest))
