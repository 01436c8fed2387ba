"""Export a job as a standalone TRL training script (``mleval finetune JOB --export-script``).

The script is :mod:`.train`'s source (which imports nothing of pytest-mleval, so it runs
without it) followed by the job's settings as a Python literal.
"""

from __future__ import annotations

import pprint
from pathlib import Path

from .config import JobConfig

__all__ = ["export_script"]

_SCRIPT_HEAD = """#!/usr/bin/env python
# Standalone TRL training script exported by `mleval finetune {config} --export-script`.
# It trains exactly as the job does (the code below is pytest-mleval's own training core)
# without pytest-mleval installed: pip install torch transformers trl peft datasets accelerate
#     python {script}                       # one process (CPU or one GPU)
#     accelerate launch {script}            # several GPUs; add --config_file for DeepSpeed/FSDP
# The job's settings are the JSON at the end; edit them there.
"""


def export_script(cfg: JobConfig, path: str | Path, *, config_name: str = "CONFIG.yaml") -> Path:
    """Write a standalone TRL script equivalent to the job.

    Args:
        cfg: The validated job config (paths already resolved).
        path: Where to write the script.
        config_name: The job file's name, mentioned in the script's header.

    Returns:
        The script path.
    """
    from . import train as core

    source = Path(core.__file__).read_text(encoding="utf-8")
    data = cfg.model_dump(mode="json")
    data.pop("eval_after", None)
    out = Path(path)
    head = _SCRIPT_HEAD.format(config=config_name, script=out.name)
    tail = (
        f"\n\nCONFIG: dict[str, Any] = {pprint.pformat(data, width=96, sort_dicts=False)}\n\n"
        'if __name__ == "__main__":\n'
        "    import sys\n\n"
        '    CONFIG["resume"] = "--resume" in sys.argv[1:]\n'
        "    raise SystemExit(main(CONFIG))\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(head + source + tail, encoding="utf-8")
    out.chmod(0o755)
    return out
