"""What a run knows about its networks so far: the last evaluation and the best epochs.

One small record, updated in one place (:meth:`Progress.update`, once per epoch), saved in every
checkpoint and turned into the per-role entries of metrics.json. Model selection on held-out data
(``best_val``) never looks at the test set; ``best`` (best test epoch) is reported for reference.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Progress:
    last_eval: dict[str, dict] = field(default_factory=dict)  # role -> test acc, loss, ece, fidelity
    last_val: dict[str, float] = field(default_factory=dict)  # role -> validation acc of the last epoch
    best: dict[str, dict] = field(default_factory=dict)       # role -> {acc, epoch}: best test epoch
    best_val: dict[str, dict] = field(default_factory=dict)   # role -> {acc, epoch, test_acc}: best val epoch

    def update(self, epoch: int, evals: dict[str, dict], val_accs: dict[str, float], trained: list[str]) -> None:
        """Record epoch ``epoch``'s test evaluation and validation accuracies."""
        self.last_eval, self.last_val = evals, val_accs
        for role, ev in evals.items():
            if role in trained and (role not in self.best or ev["acc"] > self.best[role]["acc"]):
                self.best[role] = {"acc": ev["acc"], "epoch": epoch}
        for role, acc in val_accs.items():
            if role not in self.best_val or acc > self.best_val[role]["acc"]:
                self.best_val[role] = {"acc": acc, "epoch": epoch, "test_acc": evals[role]["acc"]}

    def role_metrics(self, role: str) -> dict:
        """The metrics.json entries of ``role`` (fractions in [0, 1])."""
        entry: dict = {}
        ev = self.last_eval.get(role)
        if ev is not None:
            entry["test_acc"] = ev["acc"]
            entry.update({k: v for k, v in ev.items() if k != "acc"})
        if role in self.best:
            entry["best_test_acc"] = self.best[role]["acc"]
            entry["best_epoch"] = self.best[role]["epoch"]
        if role in self.best_val:
            entry["val_acc"] = self.last_val.get(role)
            entry["best_val_acc"] = self.best_val[role]["acc"]
            entry["best_val_epoch"] = self.best_val[role]["epoch"]
            entry["test_acc_at_best_val"] = self.best_val[role]["test_acc"]
        return entry

    def state_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_checkpoint(cls, ckpt: dict) -> Progress:
        """From a checkpoint; checkpoints written before this record existed keep their four dicts flat."""
        if "progress" in ckpt:
            return cls(**ckpt["progress"])
        last_eval = {r: {"acc": m["test_acc"]} for r, m in ckpt.get("metrics", {}).items()
                     if isinstance(m, dict) and "test_acc" in m}
        return cls(last_eval=last_eval, last_val=ckpt.get("last_val", {}), best=ckpt.get("best", {}),
                   best_val=ckpt.get("best_val", {}))
