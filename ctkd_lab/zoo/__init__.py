"""The zoo: small teachers pre-trained by the kit, shipped inside the package, used as ``zoo:<name>``.

Each entry is a folder ``ctkd_lab/zoo/<name>/`` holding ``checkpoint.pt`` (the trained network's
weights only), the run's ``config.json`` and ``metrics.json``, and ``manifest.json`` (data set,
architecture, accuracy, parameters, the command that made it, and the checkpoint's sha256, checked
on every load). ``CTKD_ZOO`` points the kit at another zoo folder. Entries are added with
``scripts/add_to_zoo.py RUN NAME``; ``ctkd-lab zoo`` lists them.
"""
from .entries import (
    MANIFEST,
    ZOO_PREFIX,
    is_zoo_name,
    sha256_file,
    write_manifest,
    zoo_checkpoint,
    zoo_dir,
    zoo_entries,
    zoo_names,
)

__all__ = ["MANIFEST", "ZOO_PREFIX", "is_zoo_name", "sha256_file", "write_manifest", "zoo_checkpoint", "zoo_dir",
           "zoo_entries", "zoo_names"]
