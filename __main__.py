"""The pack as a command: ``python path/to/comfyui-blobgan WORKFLOW.json --out DIR``.

Runs a workflow of this pack's nodes without ComfyUI (see ``nodes/runner.py``). Python puts this folder
first on ``sys.path`` when it runs a folder, so ``nodes`` and ``blobgan_core`` below are this pack's own,
from any working directory. ComfyUI never runs this file: it imports ``__init__.py``.
"""

import sys

from nodes.runner import main

sys.exit(main())
