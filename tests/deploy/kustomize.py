"""A small, faithful kustomize renderer for the features deploy/k8s uses.

kubectl is not part of the project's toolchain, so the tests render the
overlays themselves: ``resources`` (files and directories), ``namespace``,
``labels`` (with ``includeSelectors`` / ``includeTemplates``) and
``commonLabels``, ``images``, ``configMapGenerator`` / ``secretGenerator``
(``literals``, ``envs``, ``files``, ``behavior: merge|replace``) with
kustomize's content-hash name suffix and the references to it rewritten, and
``patches`` (strategic-merge files and inline JSON 6902 with a target).
Anything else in a kustomization is refused, so a new feature cannot be
silently ignored. When ``kubectl`` is installed the tests also compare this
output with ``kubectl kustomize``.
"""

import base64
import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "commonLabels",
    "images",
    "configMapGenerator",
    "secretGenerator",
    "patches",
}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
}
POD_TEMPLATE_KINDS = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"}


@dataclass
class Resource:
    """One object, with what kustomize remembers about it while rendering."""

    obj: dict[str, Any]
    generated: bool = False
    original_name: str = ""
    labels_done: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.obj["kind"]

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize directory`` would print (order aside)."""
    resources = _build(directory)
    _apply_name_hashes(resources)
    return [r.obj for r in resources]


def _build(directory: Path) -> list[Resource]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise NotImplementedError(f"{directory}: unsupported kustomize fields {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            resources.extend(_build(path))
        else:
            resources.extend(Resource(doc) for doc in load_docs(path))
    for spec in kustomization.get("configMapGenerator", []):
        _generate(resources, directory, spec, "ConfigMap")
    for spec in kustomization.get("secretGenerator", []):
        _generate(resources, directory, spec, "Secret")
    for patch in kustomization.get("patches", []):
        _patch(resources, directory, patch)
    namespace = kustomization.get("namespace")
    if namespace:
        for r in resources:
            if r.kind not in CLUSTER_SCOPED:
                r.obj["metadata"]["namespace"] = namespace
    if kustomization.get("commonLabels"):
        _label(resources, kustomization["commonLabels"], selectors=True, templates=True)
    for entry in kustomization.get("labels", []):
        _label(
            resources,
            entry["pairs"],
            selectors=entry.get("includeSelectors", False),
            templates=entry.get("includeTemplates", False),
        )
    for image in kustomization.get("images", []):
        _set_image(resources, image)
    return resources


def _kv(line: str) -> tuple[str, str]:
    key, sep, value = line.partition("=")
    if not sep:
        raise ValueError(f"not KEY=VALUE: {line!r}")
    return key.strip(), value


def _read_env_file(path: Path) -> dict[str, str]:
    data: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, value = _kv(line)
        data[key] = value
    return data


def _generator_data(directory: Path, spec: dict[str, Any]) -> dict[str, str]:
    data: dict[str, str] = {}
    for literal in spec.get("literals", []):
        key, value = _kv(literal)
        data[key] = value
    for env in spec.get("envs", []):
        data.update(_read_env_file(directory / env))
    for entry in spec.get("files", []):
        key, sep, source = entry.partition("=")
        if not sep:
            key, source = Path(entry).name, entry
        data[key] = (directory / source).read_text()
    return data


def _base64(value: str) -> str:
    """Base64 as kustomize writes it: 70-character lines, each ending in a newline, when long."""
    text = base64.b64encode(value.encode()).decode()
    if len(text) // 70 + 1 == 1:
        return text
    return "".join(text[i : i + 70] + "\n" for i in range(0, len(text), 70))


def _generate(resources: list[Resource], directory: Path, spec: dict[str, Any], kind: str) -> None:
    data = _generator_data(directory, spec)
    behavior = spec.get("behavior", "create")
    if kind == "Secret":
        encoded = {k: _base64(v) for k, v in data.items()}
        obj: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": spec["name"]},
            "type": spec.get("type", "Opaque"),
            "data": encoded,
        }
    else:
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": spec["name"]},
            "data": data,
        }
    if behavior == "create":
        resources.append(Resource(obj, generated=True, original_name=spec["name"]))
        return
    existing = next(
        (
            r
            for r in resources
            if r.kind == kind and r.generated and r.original_name == spec["name"]
        ),
        None,
    )
    if existing is None:
        raise ValueError(f"{kind} {spec['name']} to {behavior} does not exist")
    if behavior == "merge":
        existing.obj.setdefault("data", {}).update(obj["data"])
    elif behavior == "replace":
        existing.obj["data"] = obj["data"]
    else:
        raise ValueError(f"unknown generator behavior {behavior!r}")


def _find(resources: list[Resource], kind: str, name: str) -> Resource:
    for r in resources:
        if r.kind == kind and (r.name == name or r.original_name == name):
            return r
    raise ValueError(f"patch target {kind}/{name} not found")


def strategic_merge(target: Any, patch: Any) -> Any:
    """Maps merge key by key; lists of named maps merge by ``name``; other lists are replaced."""
    if isinstance(target, dict) and isinstance(patch, dict):
        merged = dict(target)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if (
        isinstance(target, list)
        and isinstance(patch, list)
        and all(isinstance(i, dict) and "name" in i for i in [*target, *patch])
    ):
        merged_list = [copy.deepcopy(i) for i in target]
        for item in patch:
            for index, existing in enumerate(merged_list):
                if existing["name"] == item["name"]:
                    merged_list[index] = strategic_merge(existing, item)
                    break
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def _pointer(path: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in path.lstrip("/").split("/")]


def json6902(obj: dict[str, Any], operations: list[dict[str, Any]]) -> None:
    """Apply ``add``, ``replace`` and ``remove`` operations in place."""
    for op in operations:
        *parents, last = _pointer(op["path"])
        node: Any = obj
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if op["op"] in {"add", "replace"}:
            value = copy.deepcopy(op["value"])
            if isinstance(node, list):
                if last == "-":
                    node.append(value)
                elif op["op"] == "add":
                    node.insert(int(last), value)
                else:
                    node[int(last)] = value
            else:
                if op["op"] == "replace" and last not in node:
                    raise KeyError(op["path"])
                node[last] = value
        elif op["op"] == "remove":
            if isinstance(node, list):
                del node[int(last)]
            else:
                del node[last]
        else:
            raise NotImplementedError(f"JSON patch op {op['op']!r}")


def _patch(resources: list[Resource], directory: Path, patch: dict[str, Any]) -> None:
    if "path" in patch:
        docs = load_docs(directory / patch["path"])
    else:
        docs = [d for d in yaml.safe_load_all(patch["patch"]) if d is not None]
    target = patch.get("target")
    for doc in docs:
        if isinstance(doc, list):  # JSON 6902 operations
            if not target:
                raise ValueError("a JSON 6902 patch needs a target")
            json6902(_find(resources, target["kind"], target["name"]).obj, doc)
        else:
            kind = target["kind"] if target else doc["kind"]
            name = target["name"] if target else doc["metadata"]["name"]
            found = _find(resources, kind, name)
            found.obj = strategic_merge(found.obj, doc)


def _add(node: dict[str, Any], path: list[str], pairs: dict[str, str]) -> None:
    for part in path:
        node = node.setdefault(part, {})
    node.update(pairs)


def _label(
    resources: list[Resource], pairs: dict[str, str], *, selectors: bool, templates: bool
) -> None:
    for r in resources:
        obj = r.obj
        _add(obj, ["metadata", "labels"], pairs)
        spec = obj.get("spec", {})
        if r.kind in POD_TEMPLATE_KINDS and (templates or selectors):
            _add(obj, ["spec", "template", "metadata", "labels"], pairs)
        if selectors:
            if r.kind in POD_TEMPLATE_KINDS - {"Job"}:
                _add(obj, ["spec", "selector", "matchLabels"], pairs)
            elif r.kind == "Service":
                _add(obj, ["spec", "selector"], pairs)
            elif r.kind == "PodDisruptionBudget":
                _add(spec, ["selector", "matchLabels"], pairs)


def pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod specs inside an object (Deployment, Job, ...)."""
    if obj["kind"] in POD_TEMPLATE_KINDS:
        return [obj["spec"]["template"]["spec"]]
    if obj["kind"] == "CronJob":
        return [obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    if obj["kind"] == "Pod":
        return [obj["spec"]]
    return []


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def _set_image(resources: list[Resource], image: dict[str, str]) -> None:
    name = image["name"]
    for r in resources:
        for pod in pod_specs(r.obj):
            for container in containers(pod):
                current = container["image"]
                if current == name or current.startswith((name + ":", name + "@")):
                    new = image.get("newName", name)
                    if "digest" in image:
                        new += "@" + image["digest"]
                    elif "newTag" in image:
                        new += ":" + str(image["newTag"])
                    elif current != name:
                        new += current[len(name) :]
                    container["image"] = new


def _go_json(value: Any) -> str:
    """``encoding/json``'s output: sorted keys, no spaces, HTML characters escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def name_hash(obj: dict[str, Any]) -> str:
    """kustomize's content hash for a generated ConfigMap or Secret.

    kustomize (api/hasher) looks the name up with the single key
    ``"metadata/name"``, which never matches, so the name it hashes is always
    empty: the suffix depends on the content (and a Secret's type) only.
    """
    encoded: dict[str, Any] = {"kind": obj["kind"], "name": "", "data": obj.get("data", {})}
    if obj["kind"] == "Secret":
        encoded["type"] = obj.get("type", "Opaque")
    digest = hashlib.sha256(_go_json(encoded).encode()).hexdigest()
    swap = {"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"}
    return "".join(swap.get(c, c) for c in digest[:10])


def _apply_name_hashes(resources: list[Resource]) -> None:
    renamed: dict[tuple[str, str], str] = {}
    for r in resources:
        if r.generated:
            new = f"{r.name}-{name_hash(r.obj)}"
            renamed[(r.kind, r.name)] = new
            r.obj["metadata"]["name"] = new
    for r in resources:
        for pod in pod_specs(r.obj):
            for container in containers(pod):
                for source in container.get("envFrom", []):
                    for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                        ref = source.get(key)
                        if ref and (kind, ref["name"]) in renamed:
                            ref["name"] = renamed[(kind, ref["name"])]
                for env in container.get("env", []):
                    value_from = env.get("valueFrom", {})
                    for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                        ref = value_from.get(key)
                        if ref and (kind, ref["name"]) in renamed:
                            ref["name"] = renamed[(kind, ref["name"])]
            for volume in pod.get("volumes", []):
                if "configMap" in volume and ("ConfigMap", volume["configMap"]["name"]) in renamed:
                    volume["configMap"]["name"] = renamed[
                        ("ConfigMap", volume["configMap"]["name"])
                    ]
                secret = volume.get("secret")
                if secret and ("Secret", secret["secretName"]) in renamed:
                    secret["secretName"] = renamed[("Secret", secret["secretName"])]
