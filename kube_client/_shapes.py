"""The shapes of the Kubernetes payloads we read, as TypedDicts: only the fields we use.

A model class per kind (what the ``kubernetes`` package has) costs import time and rejects
what it does not know; a TypedDict costs nothing at run time, keeps the payload the dict the
server sent, and lets mypy check every field name we read. All are ``total=False``: the
server omits empty fields, so every read says what an absent field means.

Sources: the Go types of k8s.io/api (coordination/v1 Lease, authentication/v1
SelfSubjectReview, authorization/v1 SubjectAccessReviewStatus and SubjectRulesReviewStatus, core/v1 ServiceAccount and
Secret, apiregistration/v1 APIService) and k8s.io/apimachinery pkg/version Info.
"""

from __future__ import annotations

from typing import Generic, TypedDict, TypeVar

__all__ = [
    "APIService",
    "APIServiceSpec",
    "Condition",
    "Lease",
    "LeaseSpec",
    "ObjectList",
    "ObjectMeta",
    "Secret",
    "SelfSubjectReview",
    "ServiceAccount",
    "ServiceReference",
    "ResourceRule",
    "SubjectAccessReview",
    "SubjectAccessReviewStatus",
    "SubjectRulesReview",
    "UserInfo",
    "VersionInfo",
]

T = TypeVar("T")


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    creationTimestamp: str
    labels: dict[str, str]
    annotations: dict[str, str]


class ObjectList(TypedDict, Generic[T], total=False):
    items: list[T]
    metadata: dict[str, str]  # continue, resourceVersion


class Condition(TypedDict, total=False):
    type: str
    status: str  # "True", "False", "Unknown"
    reason: str
    message: str
    lastTransitionTime: str


class VersionInfo(TypedDict, total=False):
    """GET /version."""

    major: str
    minor: str
    gitVersion: str
    platform: str


class LeaseSpec(TypedDict, total=False):
    holderIdentity: str
    leaseDurationSeconds: int
    acquireTime: str
    renewTime: str


class Lease(TypedDict, total=False):
    metadata: ObjectMeta
    spec: LeaseSpec


class UserInfo(TypedDict, total=False):
    username: str
    uid: str
    groups: list[str]


class SelfSubjectReviewStatus(TypedDict, total=False):
    userInfo: UserInfo


class SelfSubjectReview(TypedDict, total=False):
    status: SelfSubjectReviewStatus


class SubjectAccessReviewStatus(TypedDict, total=False):
    allowed: bool
    denied: bool
    reason: str


class SubjectAccessReview(TypedDict, total=False):
    status: SubjectAccessReviewStatus


class ResourceRule(TypedDict, total=False):
    verbs: list[str]
    apiGroups: list[str]
    resources: list[str]
    resourceNames: list[str]


class SubjectRulesReviewStatus(TypedDict, total=False):
    resourceRules: list[ResourceRule]
    incomplete: bool
    evaluationError: str


class SubjectRulesReview(TypedDict, total=False):
    status: SubjectRulesReviewStatus


class ServiceReference(TypedDict, total=False):
    namespace: str
    name: str
    port: int


class APIServiceSpec(TypedDict, total=False):
    group: str
    version: str
    service: ServiceReference  # absent for groups kube-apiserver serves itself


class APIServiceStatus(TypedDict, total=False):
    conditions: list[Condition]


class APIService(TypedDict, total=False):
    metadata: ObjectMeta
    spec: APIServiceSpec
    status: APIServiceStatus


class ObjectReference(TypedDict, total=False):
    name: str


class ServiceAccount(TypedDict, total=False):
    metadata: ObjectMeta
    secrets: list[ObjectReference]  # listed Secrets: what the legacy token cleaner may delete


class Secret(TypedDict, total=False):
    metadata: ObjectMeta
    type: str
    data: dict[str, str]  # base64; never logged
