"""``accelerate launch -m selfrat_eval.training --config ...``"""

from .cli import main

raise SystemExit(main())
