"""Front-end parity table: every benchmark x strategy through the runner, lm-eval and Inspect with a
scripted OpenAI-compatible judge on 127.0.0.1; prompts and metrics compared with the runner's.

    python benchmarks/bench_parity.py [--front-ends runner lm_eval inspect] [--out parity.json]
"""

from selfrat_eval.parity import main

if __name__ == "__main__":
    raise SystemExit(main())
