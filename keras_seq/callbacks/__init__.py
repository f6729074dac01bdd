"""Training callbacks for runs that must not lose work: atomic checkpoints and backups, and a
clear stop on a non-finite loss."""

from keras_seq.callbacks.atomic_backup_and_restore import AtomicBackupAndRestore
from keras_seq.callbacks.atomic_model_checkpoint import AtomicModelCheckpoint
from keras_seq.callbacks.stop_on_nan import StopOnNaN

__all__ = ["AtomicBackupAndRestore", "AtomicModelCheckpoint", "StopOnNaN"]
