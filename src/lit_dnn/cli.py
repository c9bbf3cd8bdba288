"""What the root scripts share: one-sentence errors with exit code 2."""

import os
import sys
from collections.abc import Callable
from typing import Any

from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

from lit_dnn.errors import UserError
from lit_dnn.models.classifier import NonFiniteLossError


def run_task(task: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Run ``task(cfg)``; a user's mistake ends as one sentence and exit code 2, not a traceback.

    ``HYDRA_FULL_ERROR=1`` shows the traceback as well.
    """
    try:
        return task(cfg)
    except SIGTERMException as err:
        saved = f"saved {err.args[0]}; resume with ckpt_path={err.args[0]}" if err.args else "no checkpoint saved"
        print(f"Stopped by SIGTERM: {saved}.", file=sys.stderr)
        sys.exit(143)
    except (UserError, NonFiniteLossError) as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"Error: {err}", file=sys.stderr)
        sys.exit(2)
