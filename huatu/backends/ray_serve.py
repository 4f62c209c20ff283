"""``--backend ray``: generation on Ray Serve replicas, everything else in this process.

The front process connects to a Ray cluster (or starts a local Ray instance) and deploys
:class:`huatu.ray_app.HuatuGenerator` — each replica loads the model once and runs the local
backend — then sends each validated request to a replica and streams its progress back. The
studio, every API, validation, metadata, history and auth stay here, where the rules live once.

Every call has a deadline; Stop cancels the run on its replica; a replica that dies mid-run
costs one retry on another replica (same seed: the same image) before a clear error.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from huatu.backends.base import BackendOutput, CancelToken, Capabilities, ProgressEvent
from huatu.backends.ray_cluster import (
    RAY_THREADS,
    ReplicaLost,
    app_running,
    check_reachable,
    failure_reason,
    is_replica_death,
    off_loop,
)
from huatu.errors import (
    BackendUnavailableError,
    GenerationCancelled,
    HuatuError,
    ModelLoadError,
)
from huatu.messages import Notice

if TYPE_CHECKING:
    from huatu.backends.base import ProgressCallback
    from huatu.config import Settings
    from huatu.request import GenerationRequest

log = logging.getLogger(__name__)

#: Seconds a small call (token count, a metadata field) may take before it is given up.
SMALL_CALL_S = 30.0
#: How often a run's watcher looks at Stop and the deadline.
WATCH_EVERY_S = 0.1
#: A run's watcher asks whether the cluster still answers every this many looks (2 s).
LOST_EVERY = 20
#: Seconds to wait for the cluster's GCS to take a connection before calling it lost.
LOST_CHECK_S = 2.0
#: Set once this process has deployed (or taken over) the generator: a later start is a model
#: switch or a reconnect.
_STARTED_ONCE = threading.Event()


class RayBackend:
    """Generation on a Ray Serve deployment of huatu's local backend.

    Args:
        model: the model every replica loads.
        settings: huatu's settings; ``settings.ray`` says where and how many replicas.

    Raises:
        ModelLoadError: the cluster cannot be reached, or the replicas cannot load ``model``;
            the sentence says which.
    """

    id = "ray"

    def __init__(self, model: str, settings: Settings) -> None:
        self._asked = (model, settings)
        self._lost = False  # the cluster stopped answering; the next run reconnects first
        self._reconnecting = threading.Lock()
        # Ray's node processes die with the thread that started them (PR_SET_PDEATHSIG): start
        # them from a thread that lives as long as the process, never from a loader thread
        RAY_THREADS.submit(self._start, model, settings).result()

    def _start(self, model: str, settings: Settings) -> None:
        import ray
        from ray import serve

        from huatu.ray_app import APPLICATION, HuatuGenerator

        self.options = settings.ray
        address = self.options.address
        where = (
            Notice("ray_cluster_at", {"address": address})
            if address
            else Notice("ray_local_cluster")
        )
        try:
            check_reachable(address)
            if address:  # a cluster elsewhere may go away; a local instance lives with us
                # A lost cluster must not end this process: by default Ray's driver exits a
                # minute after its cluster's GCS stops answering. The front stays up, refuses
                # runs while the cluster is gone and connects again once it is back.
                os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", str(10**9))
            if not ray.is_initialized():
                ray.init(
                    # no address: a local instance of our own — never a cluster that `ray
                    # start` left on this machine (Ray would connect to the last one it knows)
                    address=address or "local",
                    namespace="huatu",
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            serve.start(proxy_location="Disabled")
            #: The cluster's GCS (host:port): answering TCP there means the cluster is up.
            self._gcs = ray.get_runtime_context().gcs_address
            #: The cluster as the person named it (``auto``: as Ray found it), for sentences.
            self._address = address if address and address != "auto" else self._gcs
        except Exception as error:
            raise ModelLoadError(
                "ray_unreachable", address=address or "local", kind=type(error).__name__
            ) from None
        deployment = HuatuGenerator.options(**self._deployment_options())
        try:
            info = self._running_app_to_keep(address, model)
            if info is None:
                self.handle = serve.run(
                    deployment.bind(model, settings), name=APPLICATION, route_prefix=None
                )
                info = self.handle.info.remote().result(timeout_s=SMALL_CALL_S)
            _STARTED_ONCE.set()
        except Exception as error:
            kind, reason = failure_reason(error)
            raise ModelLoadError(
                "ray_deploy_failed", model=model, kind=kind, reason=reason
            ) from None
        self.model = info["model"]
        self.model_hash = info["model_hash"]
        self._replica_detail = info["detail"]
        self._where = where
        wanted = self.options.max_replicas
        self._capabilities = replace(info["capabilities"], concurrency=wanted)
        #: Runs delivered per replica (its host and process), since start.
        self.served: dict[str, int] = {}
        self._served_lock = threading.Lock()

    def _running_app_to_keep(self, address: str | None, model: str) -> dict[str, Any] | None:
        """The info of the generator already running on the cluster at ``address``, when it
        is to be used as it is (``self.handle`` then points at it): at this process's first
        start (deployed there with ``serve deploy``: its model and replicas are the
        operator's), or when it already serves ``model``. None: deploy ``model`` — a model
        switch, a local instance, or no generator running there."""
        from ray import serve

        from huatu.ray_app import APPLICATION

        if not address or not app_running(APPLICATION):
            return None
        handle = serve.get_app_handle(APPLICATION)
        info = handle.info.remote().result(timeout_s=SMALL_CALL_S)
        if _STARTED_ONCE.is_set() and info["model"] != model:
            return None
        log.info("using the generator already running on the Ray cluster (%s)", info["model"])
        self.handle = handle
        return info

    def _deployment_options(self) -> dict[str, Any]:
        low, high = self.options.min_replicas, self.options.max_replicas
        options: dict[str, Any] = {
            "ray_actor_options": {
                "num_cpus": self.options.cpus_per_replica,
                "num_gpus": self.options.gpus_per_replica,
            },
            # A model that fails to load fails again: one try per replica (Ray Serve gives
            # up at this many failures), not Ray's twenty, before the switch is refused (and
            # the old model loaded again).
            "max_constructor_retry_count": high,
        }
        if low == high:
            options["num_replicas"] = low
        else:
            options["autoscaling_config"] = {
                "min_replicas": low,
                "max_replicas": high,
                "target_ongoing_requests": 1,
            }
        return options

    # ------------------------------------------------------------------ what it is

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def replicas_up(self) -> int:
        """Replicas running now (asked of Ray Serve's controller)."""
        from ray import serve

        from huatu.ray_app import APPLICATION, DEPLOYMENT

        if not self._cluster_answers():
            return 0
        try:
            application = serve.status().applications[APPLICATION]
            states = application.deployments[DEPLOYMENT].replica_states
        except Exception:  # the cluster is gone: none up
            return 0
        return int(states.get("RUNNING", 0))

    @property
    def detail(self) -> Notice:
        return Notice(
            "ray_detail",
            {
                "replicas": self.replicas_up,
                "wanted": self.options.max_replicas,
                "where": self._where,
                "detail": self._replica_detail,
            },
        )

    @property
    def description(self) -> str:
        from huatu.messages import render

        return f"ray · {self.model} · {render(self.detail)}"

    def token_count(self, text: str) -> int | None:
        return self._small_call("token_count", text)

    def sampler_label(self, request: GenerationRequest) -> str:
        return self._small_call("sampler_label", request)

    def metadata_fields(self, request: GenerationRequest) -> dict[str, str]:
        return self._small_call("metadata_fields", request)

    def _small_call(self, method: str, *args: Any) -> Any:
        try:
            call = getattr(self.handle, method)
            return off_loop(lambda: call.remote(*args).result(timeout_s=SMALL_CALL_S))
        except Exception as error:
            raise BackendUnavailableError(
                "ray_replica_error", problem=type(error).__name__
            ) from None

    # ------------------------------------------------------------------ a run

    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        preview_every: int = 0,
    ) -> BackendOutput:
        """Run ``request`` on a replica, streaming its progress; a replica lost mid-run
        costs one retry on another (same seed, same image)."""
        cancel = cancel or CancelToken()
        self._connected()
        for attempt in (1, 2):
            try:
                return off_loop(self._run_once, request, progress, cancel, preview_every)
            except ReplicaLost as lost:
                log.warning("replica lost during a run (%s), attempt %d", lost.kind, attempt)
                if attempt == 2:
                    raise BackendUnavailableError("ray_replica_lost", kind=lost.kind) from None
        raise AssertionError("unreachable")

    def _cluster_answers(self) -> bool:
        """Whether the cluster's GCS takes a connection now (at once when it is gone)."""
        try:
            check_reachable(self._gcs, timeout_s=LOST_CHECK_S)
        except OSError:
            return False
        return True

    def _connected(self) -> None:
        """Refuse at once while the cluster is gone; once it is back, connect to it again and
        deploy the generator there (as at start) before the run.

        Raises:
            BackendUnavailableError: the cluster does not answer.
            ModelLoadError: it answers again, but the generator cannot be deployed there.
        """
        if not self._cluster_answers():
            if not self._lost:
                log.warning("the Ray cluster at %s stopped answering", self._address)
            self._lost = True
            raise BackendUnavailableError("ray_lost", address=self._address)
        if not self._lost:
            return
        with self._reconnecting:
            if self._lost:
                RAY_THREADS.submit(self._reconnect).result()

    def _reconnect(self) -> None:
        import ray

        log.warning("the Ray cluster at %s answers again: connecting", self._address)
        ray.shutdown()
        self._start(*self._asked)
        self._lost = False

    def _run_once(
        self,
        request: GenerationRequest,
        progress: ProgressCallback | None,
        cancel: CancelToken,
        preview_every: int,
    ) -> BackendOutput:
        from PIL import Image
        from ray.serve.exceptions import RequestCancelledError

        stream = self.handle.options(method_name="run", stream=True).remote(request, preview_every)
        finished = threading.Event()
        timed_out = threading.Event()

        deadline = time.monotonic() + self.options.timeout_s

        def watch() -> None:  # Stop, the deadline or a lost cluster cancels the run
            looks = 0
            while not finished.wait(WATCH_EVERY_S):
                looks += 1
                if time.monotonic() > deadline:
                    timed_out.set()
                if looks % LOST_EVERY == 0 and not self._cluster_answers():
                    self._lost = True
                if cancel.cancelled or timed_out.is_set() or self._lost:
                    stream.cancel()
                    return

        threading.Thread(target=watch, name="huatu-ray-watch", daemon=True).start()
        try:
            for event in stream:
                kind = event[0]
                if kind == "progress" and progress is not None:
                    _, step, total, preview = event
                    image = None if preview is None else Image.open(io.BytesIO(preview))
                    progress(ProgressEvent(step=step, total=total, preview=image))
                elif kind == "done":
                    return self._output(event[1])
                elif kind == "error":
                    raise event[1]
                elif kind == "failed":
                    raise BackendUnavailableError("ray_replica_error", problem=event[1])
        except RequestCancelledError:
            if self._lost:
                raise BackendUnavailableError("ray_lost", address=self._address) from None
            if timed_out.is_set():
                seconds = f"{self.options.timeout_s:g}"
                raise BackendUnavailableError("ray_deadline", seconds=seconds) from None
            raise GenerationCancelled() from None
        except HuatuError:  # the replica's own answer (refused, cancelled …), as it is
            raise
        except Exception as error:
            if cancel.cancelled:
                raise GenerationCancelled() from None
            if is_replica_death(error):
                raise ReplicaLost(type(error).__name__) from None
            raise BackendUnavailableError(
                "ray_replica_error", problem=type(error).__name__
            ) from None
        finally:
            finished.set()
        if cancel.cancelled:
            raise GenerationCancelled()
        raise ReplicaLost("StreamEnded")

    def _output(self, result: dict[str, Any]) -> BackendOutput:
        from PIL import Image

        replica = result["replica"]
        if result["model"] != self.model:  # the metadata must name the model that ran
            log.warning("replica %s runs %s, not %s", replica, result["model"], self.model)
            raise BackendUnavailableError(
                "ray_replica_model", found=result["model"], model=self.model
            )
        with self._served_lock:
            self.served[replica] = self.served.get(replica, 0) + 1
        images = []
        for data in result["images"]:
            image = Image.open(io.BytesIO(data))
            image.load()
            images.append(image)
        return BackendOutput(
            images=images,
            seeds=result["seeds"],
            flagged=result["flagged"],
            notices=result["notices"],
            sent=result["sent"],
            unused=result["unused"],
        )
