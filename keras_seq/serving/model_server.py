"""Which versions of which models are served: TF Serving's model manager, for the REST path."""

import logging
import math
import os
import threading

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from keras_seq.export.standalone_checker import version_directories
from keras_seq.serving.servable import Servable
from keras_seq.serving.serving_error import ServingError

logger = logging.getLogger(__name__)


def read_model_server_config(path):
    """Parses a text ``models.config`` into a ``ModelServerConfig`` proto.

    A ``model_config_list`` that lists no model (``model_config_list {}``) is a config, as
    in TF Serving: it serves no model (and, read again while serving, unloads every model).

    Raises:
        ValueError: the file does not parse, or has no ``model_config_list`` at all (an
            empty file, or a ``custom_model_config``). TF Serving refuses the latter when
            it reads the file again while serving ("It is only legal to transition from one
            ModelConfigList to another") and starts with nothing to serve from an empty
            file; an empty file at start is refused here too, as the mistake it most likely
            is (docs/serving.md).
    """
    config = model_server_config_pb2.ModelServerConfig()
    with open(path) as f:
        try:
            text_format.Parse(f.read(), config)
        except text_format.ParseError as error:
            raise ValueError(f"{path} is not a text ModelServerConfig: {error}") from None
    if config.WhichOneof("config") != "model_config_list":
        raise ValueError(
            f"{path} has no model_config_list {{ config {{ ... }} }}: it is only legal to "
            "transition from one ModelConfigList to another (write model_config_list {} "
            "to serve no model)"
        )
    return config


class ModelServer:
    """Loads, polls and resolves model versions the way TF Serving does.

    For each model (a ``ModelConfig``: name, base_path, model_version_policy, version_labels)
    the server lists the all-digit directories of ``base_path`` (read as integers, like TF
    Serving: ``0007`` is version 7), picks the versions its policy asks for (``latest {
    num_versions }``, default 1; ``all {}``; ``specific { versions }``), loads each into a
    :class:`Servable` (TF1 session loader, warm-up replay), and unloads those no longer
    wanted, but, like TF Serving's availability-preserving policy, never the last loaded
    version while a wanted one has not loaded yet. With no version wanted at all (every
    version directory deleted) every version is unloaded, as TF Serving does; a base path
    that cannot be listed (missing, unreadable) unloads nothing. An unloaded version stays
    in the status, ``UNLOADING`` while requests that took it (:meth:`acquire`) still run on
    it, then ``END`` with status ``OK``; a version being loaded is ``LOADING``. A
    version that fails to load is reported ``END`` with its error, the code and message of
    the status TF Serving's loader fails with (``NOT_FOUND`` for a directory without
    saved_model.pb, ``DATA_LOSS`` for one that does not parse, a TensorFlow error's own
    code...; see :class:`Servable`), and not retried while its
    directory stays as it was; once its files change (a copy in progress finished, or the
    version was deleted and exported again) the next poll loads it again, and a version
    whose directory is gone is forgotten.
    :meth:`start` polls every ``poll_interval`` seconds in a background thread, so a version
    renamed into the base directory is picked up.

    :meth:`reload_config` applies a new ``ModelServerConfig`` while serving, as TF Serving's
    ``ServerCore::ReloadConfig``; with ``config_file`` and ``config_poll_interval`` > 0,
    :meth:`start` also re-reads that file every ``config_poll_interval`` seconds in a second
    thread (TF Serving's ``--model_config_file_poll_wait_seconds``).

    Args:
        config: ``ModelServerConfig`` proto.
        poll_interval: float. Seconds between polls of the base directories (TF Serving's
            ``--file_system_poll_wait_seconds``, default 1).
        warmup: bool. Replay warm-up records at load.
        config_file: optional str. The ``models.config`` that ``config`` was read from.
        config_poll_interval: float. Seconds between reads of ``config_file``; 0 (the
            default) reads it only once, at start.

    Raises:
        ValueError: ``poll_interval`` is not positive, ``config_poll_interval`` is negative
            or not finite, or the config has a model that TF Serving refuses at startup:
            without a name or base_path, a name given twice, or a platform other than
            ``tensorflow``; or a name with ``/`` or ``:``, which no REST path reaches.

    Example:

    >>> server = ModelServer.for_base_path("toy", "/models/toy")  # doctest: +SKIP
    >>> server.start()  # doctest: +SKIP
    >>> server.servable("toy").version  # doctest: +SKIP
    3
    """

    def __init__(
        self, config, poll_interval=1.0, warmup=True, config_file=None, config_poll_interval=0
    ):
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0 seconds, got {poll_interval}")
        if not 0 <= config_poll_interval < math.inf:
            raise ValueError(
                f"config_poll_interval must be >= 0 seconds, got {config_poll_interval}"
            )
        problems = _config_problems(config)
        if problems:
            raise ValueError("model server config: " + "; ".join(problems))
        self.config = config
        self.poll_interval = poll_interval
        self.warmup = warmup
        self.config_file = config_file
        self.config_poll_interval = config_poll_interval
        self._models = {m.name: m for m in config.model_config_list.config}
        # Per model name ever configured (a model removed by a reload keeps its entries, so
        # that its status reports its versions END, as TF Serving's state monitor does).
        self._servables = {name: {} for name in self._models}
        self._failures = {name: {} for name in self._models}
        self._unloaded = {name: set() for name in self._models}  # reported END, OK
        # Unloaded versions that requests still run on, reported UNLOADING until they end.
        self._unloading = {name: {} for name in self._models}
        self._loading = {name: set() for name in self._models}  # reported LOADING, OK
        self._warned_empty = set()  # base paths found without a version directory
        # Base path -> the error it could not be listed with, warned once: each poll (every
        # second by default) repeated "cannot list ..." for a missing base path.
        self._unlistable = {}
        self._config_error = None  # the last problem logged of the config file
        self._lock = threading.Lock()  # guards the dicts above, held briefly
        self._update_lock = threading.Lock()  # one poll or reload at a time
        self._stop = threading.Event()
        self._thread = None
        self._config_thread = None

    @classmethod
    def for_base_path(cls, model_name, model_base_path, **kwargs):
        """A server for one model (``--model_name`` / ``--model_base_path``)."""
        config = model_server_config_pb2.ModelServerConfig()
        model = config.model_config_list.config.add()
        model.name = model_name
        model.base_path = os.path.abspath(model_base_path)
        model.model_platform = "tensorflow"
        return cls(config, **kwargs)

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """A server for the models of a text ``models.config`` (``--model_config_file``);
        with ``config_poll_interval`` > 0 the file is re-read while serving. A file whose
        ``model_config_list`` lists no model serves none (a warning says so), as TF
        Serving's does, until a re-read file lists some."""
        config = read_model_server_config(path)
        if not config.model_config_list.config:
            logger.warning(
                "%s lists no model in its model_config_list: no model is served%s",
                path,
                " until the file lists one" if kwargs.get("config_poll_interval") else "",
            )
        return cls(config, config_file=path, **kwargs)

    def start(self):
        """Loads the current versions, then keeps polling in daemon threads."""
        self.poll()
        self._thread = self._start_loop(
            "model-poller",
            self.poll_interval,
            self.poll,
            "polling the model base directories failed",
        )
        if self.config_file is not None and self.config_poll_interval > 0:
            self._config_thread = self._start_loop(
                "model-config-poller",
                self.config_poll_interval,
                self.poll_config_file,
                "reloading the model config failed",
            )

    def _start_loop(self, name, interval, work, failure):
        """A started daemon thread calling ``work`` every ``interval`` seconds until `stop`;
        an exception is logged with ``failure`` and the loop goes on."""

        def loop():
            while not self._stop.wait(interval):
                try:
                    work()
                except Exception:  # noqa: BLE001 - keep polling; the error is logged
                    logger.exception(failure)

        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        return thread

    def stop(self):
        """Stops polling and releases every session."""
        self._stop.set()
        for thread in (self._thread, self._config_thread):
            if thread is not None:
                thread.join()
        with self._lock:
            servables = [s for versions in self._servables.values() for s in versions.values()]
            for versions in self._servables.values():
                versions.clear()
        for servable in servables:
            servable.close()

    def poll(self):
        """One pass over the base directories: load wanted versions, unload the others."""
        with self._update_lock:
            self._poll()

    def _poll(self):
        for name, model in self._models.items():
            directories = self._version_directories(model)
            if directories is None:
                # Unlistable (missing, unreadable): TF Serving's poll fails and changes
                # nothing, so a transiently unavailable base path unloads no version.
                continue
            wanted = self._wanted_versions(model, set(directories))
            with self._lock:
                loaded = set(self._servables[name])
                failures = self._failures[name]
                for version in set(failures) - set(directories):
                    del failures[version]  # gone from disk: a new directory is a new version
            for version in sorted(wanted - loaded):
                path = os.path.join(model.base_path, directories[version])
                contents = _directory_contents(path)
                with self._lock:
                    failure = self._failures[name].get(version)
                if failure is not None and failure[2] == contents:
                    continue  # failed as it is now; retried once its files change
                with self._lock:
                    # TF Serving's status reports a version LOADING while it loads and warms
                    # up (a status request for it is a 200, not an unknown version's 404).
                    self._loading[name].add(version)
                try:
                    servable = Servable(name, version, path, warmup=self.warmup)
                except Exception as error:  # noqa: BLE001 - a bad version must not stop the rest
                    # TF Serving's status reports the load's own error (its code included:
                    # NOT_FOUND, DATA_LOSS...); anything else the loader raised is UNKNOWN.
                    if not isinstance(error, ServingError):
                        error = ServingError.from_code("UNKNOWN", str(error))
                    logger.error(
                        "failed to load %s version %d: %s: %s",
                        name,
                        version,
                        error.code,
                        error.message,
                    )
                    with self._lock:
                        self._loading[name].discard(version)
                        self._failures[name][version] = (error.code, error.message, contents)
                    continue
                logger.info("serving %s version %d from %s", name, version, path)
                with self._lock:
                    self._loading[name].discard(version)
                    self._servables[name][version] = servable
                    self._failures[name].pop(version, None)
                    self._unloaded[name].discard(version)
            with self._lock:
                current = set(self._servables[name])
                drop = current - wanted
                if current and wanted and not current & wanted:
                    # Availability first (TF Serving's AvailabilityPreservingPolicy): while
                    # no wanted version could be loaded, keep serving the newest loaded one.
                    # With no version wanted at all (every version directory deleted) that
                    # policy unloads everything, and so does this: kept, a deleted version
                    # would answer forever, and one exported again under its number would
                    # never be loaded.
                    drop.discard(max(current))
                for version in drop:
                    self._retire(name, self._servables[name].pop(version))
                    logger.info("unloaded %s version %d", name, version)

    def reload_config(self, config):
        """Serves the models of ``config`` from now on, as TF Serving's ReloadConfig does.

        A model new in ``config`` is loaded before this returns; a model no longer listed is
        unloaded (requests for it answer 404; its status keeps its versions, ``END``); a
        listed model takes its new base path, version policy and labels, applied by a poll
        at once. A version number that stays wanted stays loaded as it is, even from another
        base path: TF Serving's manager knows a version by model name and number.

        Raises:
            ValueError: ``config`` is one :class:`ModelServer` refuses at start, or moves a
                version label to a version that is not loaded now (TF Serving refuses that
                even with ``--allow_version_labels_for_unavailable_models``). Nothing changes.
        """
        problems = _config_problems(config)
        with self._update_lock:
            with self._lock:
                problems += self._label_problems(config)
            if problems:
                raise ValueError("model server config: " + "; ".join(problems))
            models = {m.name: m for m in config.model_config_list.config}
            with self._lock:
                removed = [name for name in self._models if name not in models]
                for name in removed:
                    for servable in self._servables[name].values():
                        self._retire(name, servable)
                    self._servables[name].clear()
                for name in models:
                    self._servables.setdefault(name, {})
                    self._unloading.setdefault(name, {})
                    self._failures.setdefault(name, {})
                    self._unloaded.setdefault(name, set())
                    self._loading.setdefault(name, set())
                added = sorted(set(models) - set(self._models))
                changed = sorted(
                    name
                    for name in set(models) & set(self._models)
                    if models[name] != self._models[name]
                )
                self.config = config
                self._models = models
            for name in removed:
                logger.info("unloaded every version of %s: no longer in the config", name)
            logger.info(
                "model config reloaded: added %s, removed %s, changed %s",
                added,
                sorted(removed),
                changed,
            )
            self._poll()

    def _retire(self, name, servable):
        """Takes an unloaded version out of service (called holding ``self._lock``).

        New requests no longer reach it; requests already running on it (those that
        took it with :meth:`acquire`) finish on it, and meanwhile the status reports it
        ``UNLOADING``, as TF Serving's manager does while it waits for a servable's handles
        to be released; then ``END`` with status OK, which TF Serving's status keeps. The
        session closes when the last reference to it is dropped.
        """
        if servable.retire(self._unloaded_done):
            self._unloaded[name].add(servable.version)
        else:
            self._unloading[name][servable.version] = servable

    def _unloaded_done(self, servable):
        """The last request on a retired version ended: UNLOADING becomes END."""
        with self._lock:
            unloading = self._unloading.get(servable.name, {})
            if unloading.get(servable.version) is servable:
                del unloading[servable.version]
            self._unloaded[servable.name].add(servable.version)

    def _label_problems(self, config):
        """Labels of ``config`` that TF Serving's UpdateModelVersionLabelMap refuses: an
        existing label moved to a version that is not loaded now."""
        problems = []
        for model in config.model_config_list.config:
            current = self._models.get(model.name)
            if current is None:
                continue
            for label, version in model.version_labels.items():
                moved = label in current.version_labels and current.version_labels[label] != version
                if moved and version not in self._servables[model.name]:
                    problems.append(
                        f"Request to assign label to version {version} of model {model.name}, "
                        "which is not currently available for inference"
                    )
        return problems

    def model_names(self):
        with self._lock:
            return sorted(self._models)

    def servable(self, name, version=None, label=None):
        """The Servable for a request (highest version when neither version nor label given).

        Raises:
            ServingError: 404 unknown model or version, 400 version and label together or an
                unknown label.
        """
        with self._lock:  # one config: a reload may replace it at any time
            return self._resolve(name, version, label)

    def acquire(self, name, version=None, label=None):
        """:meth:`servable`, held (``Servable.acquire``) in the same step, so that no unload
        comes between: until its ``release`` an unloaded version is reported
        ``UNLOADING``, not ``END``, as TF Serving reports a version whose in-flight requests
        have not ended.

        Raises:
            ServingError: as :meth:`servable`.
        """
        with self._lock:
            servable = self._resolve(name, version, label)
            servable.acquire()
            return servable

    def _resolve(self, name, version, label):
        """:meth:`servable`, called holding ``self._lock``."""
        if version is not None and label is not None:
            raise ServingError(400, "Request cannot have both version and version_label set")
        if name not in self._models:
            raise ServingError(404, f"Servable not found for request: Latest({name})")
        if label is not None:
            version = self._labelled_version(name, label)
        versions = self._servables[name]
        if version is None:
            if not versions:
                raise ServingError(404, f"Servable not found for request: Latest({name})")
            return versions[max(versions)]
        if version not in versions:
            raise ServingError(404, f"Servable not found for request: Specific({name}, {version})")
        return versions[version]

    def _labelled_version(self, name, label):
        """The version the config's ``label`` of model ``name`` names; 400 when unknown (or
        when the model is no longer configured). Called holding ``self._lock``."""
        model = self._models.get(name)
        if model is None or label not in model.version_labels:
            raise ServingError(400, f"Unrecognized servable version label: {label}")
        return model.version_labels[label]

    def status(self, name, version=None, label=None):
        """TF Serving's GetModelStatus answer as a dict.

        Raises:
            ServingError: 404 when the model or version is unknown; 400 for an unknown
                label.
        """
        if version is not None and label is not None:
            raise ServingError(400, "Request cannot have both version and version_label set")
        with self._lock:
            # A model that a reload removed is still known: its versions are reported END.
            if name not in self._servables:
                raise ServingError(404, f"Could not find any versions of model {name}")
            if label is not None:
                # The label names a version through the config, as for /versions/N: a
                # version that failed to load is reported END with its error, not as an
                # unknown servable.
                version = self._labelled_version(name, label)
            entries = {v: ("END", "OK", "") for v in self._unloaded[name]}
            entries.update(
                {v: ("END", code, m) for v, (code, m, _) in self._failures[name].items()}
            )
            entries.update({v: ("UNLOADING", "OK", "") for v in self._unloading[name]})
            entries.update({v: ("LOADING", "OK", "") for v in self._loading[name]})
            entries.update({v: ("AVAILABLE", "OK", "") for v in self._servables[name]})
        if version is not None:
            if version not in entries:
                raise ServingError(404, f"Could not find version {version} of model {name}")
            entries = {version: entries[version]}
        if not entries:
            raise ServingError(404, f"Could not find any versions of model {name}")
        return {
            "model_version_status": [
                {
                    "version": str(v),
                    "state": state,
                    "status": {"error_code": code, "error_message": message},
                }
                for v, (state, code, message) in sorted(entries.items(), reverse=True)
            ]
        }

    def _version_directories(self, model):
        """Version number -> directory name, for the all-digit entries of the base path;
        None when the base path cannot be listed."""
        try:
            directories = version_directories(model.base_path)  # BASE/0007 is version 7
        except OSError as error:
            if self._unlistable.get(model.base_path) != str(error):
                self._unlistable[model.base_path] = str(error)
                logger.warning(
                    "cannot list %s: %s (said once, until it can be listed or fails otherwise)",
                    model.base_path,
                    error,
                )
            return None
        self._unlistable.pop(model.base_path, None)
        if directories:
            self._warned_empty.discard(model.base_path)
        elif model.base_path not in self._warned_empty:
            # Once per base path (each poll would repeat it), as TF Serving's own warning.
            self._warned_empty.add(model.base_path)
            hint = (
                " It holds a saved_model.pb: point the base path at its parent directory."
                if os.path.exists(os.path.join(model.base_path, "saved_model.pb"))
                else ""
            )
            logger.warning(
                "No versions of servable %s found under base path %s. Did you forget to name "
                "your leaf directory as a number (eg. '/1/')?%s",
                model.name,
                model.base_path,
                hint,
            )
        return directories

    @staticmethod
    def _wanted_versions(model, present):
        policy = model.model_version_policy
        choice = policy.WhichOneof("policy_choice")
        if choice == "all":
            return present
        if choice == "specific":
            return present & set(policy.specific.versions)
        num_versions = policy.latest.num_versions if choice == "latest" else 1
        return set(sorted(present, reverse=True)[: max(num_versions, 1)])

    def poll_config_file(self):
        """Reads ``config_file`` again and applies it when it changed. A file that cannot be
        read, does not parse or is refused leaves the current config serving; the problem is
        logged (once, until it changes), as TF Serving's PollFilesystemAndReloadConfig logs
        and keeps serving.

        Returns:
            bool: whether a new config was applied.

        Raises:
            ValueError: the server was not made with a ``config_file``.
        """
        if self.config_file is None:
            raise ValueError("this ModelServer has no config_file to read again")
        try:
            config = read_model_server_config(self.config_file)
            if config == self.config:
                self._config_error = None
                return False
            self.reload_config(config)
        except (OSError, ValueError) as error:
            message = str(error)
            if message != self._config_error:
                logger.error(
                    "failed to reload the model config from %s, keeping the previous one: %s",
                    self.config_file,
                    message,
                )
                self._config_error = message
            return False
        self._config_error = None
        return True


def _config_problems(config):
    """What TF Serving would refuse in a ``ModelServerConfig`` before loading anything."""
    models = config.model_config_list.config
    problems = []
    names = [model.name for model in models]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        # A dict keyed by name would silently keep only the last of them.
        problems.append(f"model names must be unique, got {duplicates} more than once")
    for index, model in enumerate(models):
        if not model.name or not model.base_path:
            problems.append(
                f"config {index} ({model.name!r}) needs both a name and a base_path, got "
                f"name={model.name!r} base_path={model.base_path!r}"
            )
        if "/" in model.name or ":" in model.name:
            # /v1/models/<name>[/versions/N][:predict] cannot carry them: such a model would
            # load and never answer.
            problems.append(
                f"model name {model.name!r} holds '/' or ':', which the REST path "
                "/v1/models/<name> cannot carry"
            )
        if model.model_platform not in ("", "tensorflow"):
            problems.append(
                f"model {model.name!r} has model_platform {model.model_platform!r}; this "
                "server loads 'tensorflow' SavedModels only"
            )
    return problems


def _directory_contents(path):
    """What identifies a version directory's files now: the path, inode, size and
    modification time of the directory and of everything in it (None when unreadable).

    A version that failed to load is retried when this changes: a copy that was still in
    progress has finished, or the version was deleted and exported again.
    """
    contents = []
    try:
        for directory, _, files in os.walk(path):
            for entry in [directory, *(os.path.join(directory, f) for f in files)]:
                info = os.stat(entry)
                relative = os.path.relpath(entry, path)
                contents.append((relative, info.st_ino, info.st_size, info.st_mtime_ns))
    except OSError:
        return None
    return tuple(sorted(contents))
