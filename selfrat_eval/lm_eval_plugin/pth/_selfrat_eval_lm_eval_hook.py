"""Start-up hook that lets lm-evaluation-harness find the selfrat-eval tasks without flags.

Installed at the top of site-packages next to ``selfrat_eval_lm_eval.pth`` (one line,
``import _selfrat_eval_lm_eval_hook``), so it runs at every interpreter start. It must stay cheap
(well under 1 ms) and must not import selfrat_eval or lm_eval: it only puts a finder on
``sys.meta_path`` that waits for lm-eval's own modules. When ``lm_eval.tasks.manager`` or
``lm_eval.models`` finishes importing, ``selfrat_eval.lm_eval_plugin.discovery`` is called to add our
task folder to the TaskManager search path and to register the ``selfrat-judge`` model. Without
lm-eval nothing else ever happens. Opt out with ``SELFRAT_LM_EVAL_HOOK=0``.
"""

import os
import sys

_WATCHED = ("lm_eval.tasks.manager", "lm_eval.models")


class SelfratLmEvalFinder:
    """Meta-path finder that wraps the loader of the watched lm-eval modules (and nothing else)."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname not in _WATCHED:
            return None
        for finder in sys.meta_path:
            if finder is cls or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return spec

        def exec_then_patch(module, _exec=exec_module, _name=fullname):
            _exec(module)
            try:
                from selfrat_eval.lm_eval_plugin import discovery

                discovery.on_module_loaded(_name, module)
            except Exception as exc:  # never break lm-eval because of the plugin
                import warnings

                warnings.warn(f"selfrat-eval lm-eval hook failed ({exc!r}); use --include_path", stacklevel=2)

        loader.exec_module = exec_then_patch
        return spec


def install():
    if os.environ.get("SELFRAT_LM_EVAL_HOOK", "1").strip().lower() in ("0", "false", "no", "off"):
        return
    if SelfratLmEvalFinder not in sys.meta_path:
        sys.meta_path.insert(0, SelfratLmEvalFinder)


install()
