"""``python -m ctkd_lab ...`` is ``ctkd-lab ...``.

Under torchrun: ``torchrun --nproc_per_node 2 -m ctkd_lab train ...``.
"""
import sys

from .cli import main

sys.exit(main())
