"""``ensure``: one long-lived, verified token Secret for a ServiceAccount, idempotently.

How the control plane behaves, and what follows for us (kubernetes/kubernetes
pkg/controller/serviceaccount/tokens_controller.go and legacy_serviceaccount_token_cleaner.go;
kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/):

- 1.24+: nothing is created automatically. A Secret of type kubernetes.io/service-account-token
  annotated with kubernetes.io/service-account.name is filled in (token, ca.crt, namespace) by
  kube-controller-manager's token controller, which also adds the uid annotation. If the
  ServiceAccount is missing, or its uid differs from the annotation, the controller deletes the
  Secret at once (tokens_controller.go, syncSecret).
- We never add the Secret to the ServiceAccount's ``secrets`` list: the legacy token cleaner
  (1.29+) only invalidates and deletes *listed* Secrets unused for a year
  (legacy_serviceaccount_token_cleaner.go skips a Secret unless ``hasSecretReference``).
- Before 1.24 the controller creates and lists a Secret for every ServiceAccount; if there is
  none, the controller is not running (as in the incident the README opens with), and we say so
  instead of hiding it. 1.24 stopped it by default (kubernetes/kubernetes#108309, KEP-2799).
- Concurrent ``ensure`` runs converge on one Secret: the name is deterministic, and a 409
  AlreadyExists is success after a re-read. No run deletes a Secret another run may use.
- The wait is a watch from the create's resourceVersion, bounded by ``wait``: it returns as
  soon as the controller's update arrives, not on a polling tick.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from secrets import token_hex as random_hex
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from kube_client._cluster import stale_leases
from kube_client._cluster import read_identity, read_leases, read_version
from kube_client._durations import format_age
from kube_client._errors import (
    ClusterError,
    ConfigError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PreflightError,
    UnauthorizedError,
)
from kube_client._cluster import (
    INVALID_SINCE_LABEL,
    SA_NAME_ANNOTATION,
    SA_TOKEN_TYPE,
    SA_UID_ANNOTATION,
    Identity,
    token_filled,
)
from kube_client._http import KubeClient, b64decode_field
from kube_client._kubeconfig import Credentials, Material
from kube_client._retry import with_retries
from kube_client._deadline import Deadline

from ._names import check_account, check_subdomain

__all__ = ["EnsureError", "EnsureResult", "RotateResult", "ensure_token", "rotate_token"]

FRESH_TOKEN_GRACE = 5.0  # seconds a just-filled token may be refused while the API server's cache catches up


class EnsureError(PreflightError):
    """The token could not be ensured (exit 1): the message says why and what to do."""

    exit_code = 1


@dataclass(frozen=True, kw_only=True)
class EnsureResult:
    namespace: str
    service_account: str
    secret: str
    created: bool
    identity: str
    server_version: str
    elapsed_seconds: float  # from the first request to a verified token (connecting not included)
    ca_pem: bytes = field(repr=False)
    token: str = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """Everything but the token, for logs and JSON."""
        return {
            "namespace": self.namespace,
            "service_account": self.service_account,
            "secret": self.secret,
            "created": self.created,
            "identity": self.identity,
            "server_version": self.server_version,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("metadata") or {})


def _permission_hint(verb: str, resource: str, namespace: str) -> str:
    return (f"grant it with a Role rule: {{apiGroups: [\"\"], resources: [\"{resource}\"], verbs: [\"{verb}\"]}} "
            f"in namespace {namespace}")


class _Ensurer:
    def __init__(self, client: KubeClient, namespace: str, name: str, *, secret_name: str, wait: float) -> None:
        self.client = client
        self.ns = namespace
        self.name = name
        self.secret_name = secret_name
        self.wait = wait
        self.base = f"/api/v1/namespaces/{quote(namespace)}"

    def _request(self, verb: str, resource: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """One request; a 403 becomes the exact Role rule that is missing."""
        try:
            return dict(self.client.request(method, path, body=body).data or {})
        except ForbiddenError as exc:
            raise EnsureError(f"not allowed to {verb} {resource} in namespace {self.ns}",
                              fix=_permission_hint(verb, resource, self.ns)) from exc

    # -- reads ------------------------------------------------------------------------------

    def account(self) -> dict[str, Any] | None:
        try:
            return self._request("get", "serviceaccounts", "GET", f"{self.base}/serviceaccounts/{quote(self.name)}")
        except NotFoundError:
            return None

    def namespace_exists(self) -> bool:
        try:
            self.client.get(f"{self.base}")
        except NotFoundError:
            return False
        except ForbiddenError:
            return True  # cannot tell; the later requests will say what is missing
        return True

    def token_secrets(self) -> list[dict[str, Any]]:
        try:
            return list(self.client.list_all(f"{self.base}/secrets", fieldSelector=f"type={SA_TOKEN_TYPE}"))
        except ForbiddenError as exc:
            raise EnsureError(f"not allowed to list secrets in namespace {self.ns}",
                              fix=_permission_hint("list", "secrets", self.ns)) from exc

    def secret(self, name: str) -> dict[str, Any] | None:
        try:
            return self._request("get", "secrets", "GET", f"{self.base}/secrets/{quote(name)}")
        except NotFoundError:
            return None

    # -- writes -----------------------------------------------------------------------------

    def create_account(self) -> dict[str, Any]:
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": self.name}}
        try:
            return self._request("create", "serviceaccounts", "POST", f"{self.base}/serviceaccounts", body)
        except ConflictError:
            account = self.account()
            if account is None:
                raise EnsureError(f"ServiceAccount {self.ns}/{self.name} was created and deleted concurrently") from None
            return account

    def create_secret(self) -> tuple[dict[str, Any], bool]:
        """Create the token Secret; (secret, created). AlreadyExists means another run won."""
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": SA_TOKEN_TYPE,
            # Only the name annotation: the controller adds the uid of the account it fills it for.
            "metadata": {"name": self.secret_name, "annotations": {SA_NAME_ANNOTATION: self.name},
                         "labels": {"app.kubernetes.io/managed-by": "sa-tokens"}},
        }
        try:
            return self._request("create", "secrets", "POST", f"{self.base}/secrets", body), True
        except ConflictError:
            existing = self.secret(self.secret_name)
            if existing is None:  # deleted between our create and read: the controller rejected it
                raise EnsureError(f"Secret {self.ns}/{self.secret_name} vanished right after creation: "
                                  "the token controller deletes token Secrets of missing ServiceAccounts") from None
            return existing, False

    # -- waiting ----------------------------------------------------------------------------

    def wait_filled(self, secret: dict[str, Any]) -> dict[str, Any]:
        if token_filled(secret):
            return secret
        deadline = time.monotonic() + min(self.wait, self.client.deadline.remaining())  # never past the run's --timeout
        version = str(_meta(secret).get("resourceVersion") or "0")
        while time.monotonic() < deadline:
            try:
                events = self.client.watch(f"{self.base}/secrets", resource_version=version,
                                           timeout=deadline - time.monotonic(), fieldSelector=f"metadata.name={self.secret_name}")
                for event in events:
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":  # e.g. 410 Gone: resourceVersion too old
                        version = "0"
                        break
                    version = str(_meta(obj).get("resourceVersion") or version)
                    if event.get("type") == "DELETED":
                        raise EnsureError(
                            f"the token controller deleted Secret {self.ns}/{self.secret_name}: ServiceAccount "
                            f"{self.ns}/{self.name} was deleted or recreated meanwhile",
                            fix="re-run sa-tokens ensure once the ServiceAccount is stable",
                        )
                    if token_filled(obj):
                        return obj
                else:
                    # The watch ended (its timeout); re-read in case we missed the update.
                    current = self.secret(self.secret_name)
                    if current is None:
                        continue
                    if token_filled(current):
                        return current
                    version = str(_meta(current).get("resourceVersion") or version)
            except ForbiddenError as exc:
                raise EnsureError(f"not allowed to watch secrets in namespace {self.ns}",
                                  fix=_permission_hint("watch", "secrets", self.ns)) from exc
        raise EnsureError(self.explain_timeout(), fix="fix the cause above, then run sa-tokens ensure again")

    def verified(self, secret: dict[str, Any], *, created: bool, version: str, started: float) -> EnsureResult:
        """Wait until ``secret`` is filled, then prove its token authenticates as the account."""
        secret = self.wait_filled(secret)
        if (_meta(secret).get("labels") or {}).get(INVALID_SINCE_LABEL):
            raise EnsureError(f"Secret {self.ns}/{_meta(secret).get('name')} is marked invalid by the legacy token cleaner")
        data = secret.get("data") or {}
        token = b64decode_field(data.get("token")).decode(errors="replace")
        identity = _whoami_fresh(self.client, token)
        expected = f"system:serviceaccount:{self.ns}:{self.name}"
        if identity.username != expected:
            raise EnsureError(f"the new token authenticates as {identity.username or 'nobody'}, not {expected}")
        return EnsureResult(
            namespace=self.ns,
            service_account=self.name,
            secret=str(_meta(secret).get("name")),
            created=created,
            identity=identity.username,
            server_version=version,
            elapsed_seconds=time.monotonic() - started,
            ca_pem=b64decode_field(data.get("ca.crt")),
            token=token,
        )

    def explain_timeout(self) -> str:
        head = f"token Secret {self.ns}/{self.secret_name} was not filled within {self.wait:g}s"
        account = self.account()
        if account is None:
            return f"{head}: ServiceAccount {self.ns}/{self.name} does not exist (the controller deletes such Secrets)"
        secret = self.secret(self.secret_name) or {}
        uid = (_meta(secret).get("annotations") or {}).get(SA_UID_ANNOTATION)
        if uid and uid != _meta(account).get("uid"):
            return f"{head}: it names ServiceAccount uid {uid}, but {self.ns}/{self.name} now has uid {_meta(account).get('uid')}"
        try:
            leases = read_leases(self.client)
        except ClusterError:
            return f"{head}: is kube-controller-manager running? (could not read its leader Lease)"
        stale = stale_leases(leases)
        if "kube-controller-manager" in stale:
            return (f"{head}: kube-controller-manager has not renewed its leader lease for "
                    f"{format_age(stale['kube-controller-manager'])}: it is not running or cannot authenticate (expired client certificate?)")
        if "kube-controller-manager" not in leases.items:
            return f"{head}: no kube-controller-manager leader Lease exists; is it running with the token controller enabled?"
        return f"{head}: kube-controller-manager is leading but did not fill it; check that it runs with --service-account-private-key-file"


def _whoami_fresh(client: KubeClient, token: str) -> Identity:
    """``_whoami`` for a token whose Secret was filled a moment ago. kube-apiserver checks a
    legacy token against its own informer's copy of the Secret and asks etcd only when that
    copy is missing (pkg/controller/serviceaccount/tokengetter.go), so for a moment after the
    fill it may still hold the empty copy and answer 401 "Token does not match server's copy".
    Seen once in ten concurrent ensures; a 401 is retried for FRESH_TOKEN_GRACE seconds only."""
    grace = Deadline(min(FRESH_TOKEN_GRACE, client.deadline.remaining()))

    def attempt() -> Identity:
        try:
            return _whoami(client, token)
        except UnauthorizedError as exc:
            exc.transient = True  # for this window only: the one retry policy retries what is transient
            raise

    try:
        return with_retries(grace, attempt)
    except UnauthorizedError as exc:
        exc.transient = False
        raise


def _whoami(client: KubeClient, token: str) -> Identity:
    """Authenticate with ``token`` itself: proof that the Secret works, not just exists."""
    target = client.target
    as_account = dataclasses.replace(  # same server, CA and proxy; only the credential differs
        target,
        context=f"{target.context} (as the ServiceAccount)",
        credentials=Credentials(user="token", token=Material(source="the new token", data=token.encode())),
    )
    checker = KubeClient(as_account, client.deadline, max_connections=1)
    try:
        return read_identity(checker)
    finally:
        checker.close()


def ensure_token(
    client: KubeClient,
    namespace: str,
    name: str,
    *,
    create_sa: bool = False,
    secret_name: str | None = None,
    wait: float = 60.0,
    force_create: bool = False,
) -> EnsureResult:
    """Make sure ServiceAccount ``namespace/name`` has a filled, working long-lived token."""
    secret_name = check_account(namespace, name, secret_name)
    started = time.monotonic()
    e = _Ensurer(client, namespace, name, secret_name=secret_name, wait=wait)
    version = read_version(client)

    account = e.account()
    if account is None:
        if not e.namespace_exists():
            raise ConfigError(f"namespace {namespace!r} does not exist on {client.where}",
                              fix="create it, or pass the right -n")
        if not create_sa:
            raise EnsureError(f"ServiceAccount {namespace}/{name} does not exist", fix="create it, or pass --create-sa")
        account = e.create_account()
    uid = str(_meta(account).get("uid") or "")

    mine = [
        s for s in e.token_secrets()
        if (_meta(s).get("annotations") or {}).get(SA_NAME_ANNOTATION) == name
        and (_meta(s).get("annotations") or {}).get(SA_UID_ANNOTATION) in (None, "", uid)
    ]
    reusable = [s for s in mine if token_filled(s) and not (_meta(s).get("labels") or {}).get(INVALID_SINCE_LABEL)]
    created = False
    if reusable:
        # The newest wins, whatever its name: after (or during) a rotation the deterministic
        # <sa>-token is the old one, about to be deleted.
        reusable.sort(key=lambda s: str(_meta(s).get("creationTimestamp") or ""), reverse=True)
        secret = reusable[0]
    elif not version.at_least(1, 24) and not force_create:
        pending = [s for s in mine if not token_filled(s)]
        state = "is not filled" if pending else "does not exist"
        raise EnsureError(
            f"ServiceAccount {namespace}/{name}'s token Secret {state}. This cluster is {version.git_version}: before 1.24 the "
            "control plane creates one for every ServiceAccount, so kube-controller-manager's token controller is not running",
            fix="fix kube-controller-manager first (preflight check shows why); --force-create creates a Secret anyway",
        )
    else:
        existing = e.secret(secret_name)
        if existing is not None and (existing.get("type") != SA_TOKEN_TYPE
                                     or (_meta(existing).get("annotations") or {}).get(SA_NAME_ANNOTATION) != name):
            raise EnsureError(f"Secret {namespace}/{secret_name} exists and is not a token for ServiceAccount {name}",
                              fix="pass --secret-name to choose another name")
        # Judge it by its uid annotation, not by equality with what the LIST returned: a
        # concurrent run may have created it after our LIST, or the controller filled it since.
        owner_uid = (_meta(existing).get("annotations") or {}).get(SA_UID_ANNOTATION) if existing is not None else None
        if existing is not None and owner_uid in (None, "", uid):
            secret = existing  # another run created it; wait with it
        elif existing is not None:
            raise EnsureError(
                f"Secret {namespace}/{secret_name} belongs to an earlier ServiceAccount of the same name (uid mismatch); "
                "the token controller will delete it",
                fix="run sa-tokens ensure again in a moment, or pass --secret-name",
            )
        else:
            secret, created = e.create_secret()
    return e.verified(secret, created=created, version=version.git_version, started=started)


@dataclass(frozen=True, kw_only=True)
class RotateResult:
    new: EnsureResult
    deleted: tuple[str, ...]


def rotate_token(
    client: KubeClient,
    namespace: str,
    name: str,
    *,
    grace: float,
    wait: float = 60.0,
    before_delete: Any = None,
    sleep: Any = None,
) -> RotateResult:
    """Create and verify a new token Secret, then delete the old ones after ``grace`` seconds.

    ``before_delete(result)`` runs once the new token works (publish it where the old one was,
    e.g. a Jenkins credential); the old Secrets stay valid during the grace period for builds
    already running with them. ``sleep`` is injectable for tests (default: an interruptible
    wait on an Event, so Ctrl-C still works).
    """
    check_account(namespace, name)
    # A timestamp for people, random hex so two rotations in one second never share a name.
    stamp = f"{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{random_hex(2)}"
    e = _Ensurer(client, namespace, name, secret_name=check_subdomain(f"{name}-token-{stamp}", "Secret"), wait=wait)
    account = e.account()
    if account is None:
        raise EnsureError(f"ServiceAccount {namespace}/{name} does not exist", fix="sa-tokens ensure --create-sa first")
    old = [
        s for s in e.token_secrets()
        if (_meta(s).get("annotations") or {}).get(SA_NAME_ANNOTATION) == name and _meta(s).get("name") != e.secret_name
    ]
    started = time.monotonic()
    secret, _ = e.create_secret()
    result = e.verified(secret, created=True, version=read_version(client).git_version, started=started)  # raises: old ones kept
    if before_delete is not None:
        before_delete(result)
    (sleep or threading.Event().wait)(grace)
    deleted = []
    for s in old:
        meta = _meta(s)
        try:
            # The uid precondition deletes exactly the Secret we listed, never a newer one of that name.
            client.request("DELETE", f"{e.base}/secrets/{quote(str(meta.get('name')))}",
                           body={"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": meta.get("uid")}})
            deleted.append(str(meta.get("name")))
        except (NotFoundError, ConflictError):
            continue
    return RotateResult(new=result, deleted=tuple(deleted))
