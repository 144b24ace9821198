"""Print the lm-eval task folder, for ``lm_eval --include_path "$(python -m selfrat_eval.lm_eval_path)"``.

The fallback when the start-up hook is disabled (``SELFRAT_LM_EVAL_HOOK=0``) or not installed.
"""

from __future__ import annotations

import sys


def main() -> int:
    from selfrat_eval.lm_eval_plugin.paths import task_dir

    try:
        print(task_dir())
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
