"""Model packages: a folder of model files described by a hash-pinned manifest.

:func:`write_package` saves a model with its flavor, an input example, pinned
requirements and the manifest ``loopml-model.json``, which records the BLAKE3 digest of
every other file. :func:`load_package` checks every digest *before* anything is
unpickled or imported, so a tampered file is refused rather than executed.

Example:
    >>> manifest = write_package(model, Path("pkg"), input_example=X.head())
    >>> loaded = load_package(manifest, Path("pkg"))
    >>> loaded.predict(X.head(3))
    array([0, 1, 1])
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loopml.blobs import hash_file
from loopml.errors import InvalidInput, LoopmlError, NotFound, StoreError
from loopml.registry._environment import (
    library_versions,
    pickle_modules,
    python_version,
    requirement_lines,
)
from loopml.registry._examples import EXAMPLE_NAME, example_head, example_json
from loopml.registry._flavors import Flavor, get_flavor, resolve_flavor
from loopml.registry._model import PackagedModel
from loopml.registry._signature import Signature, infer_signature, tensor_of

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "Manifest",
    "PackageFile",
    "PackagedModel",
    "load_package",
    "verify_files",
    "write_package",
]

MANIFEST_NAME = "loopml-model.json"
FORMAT_VERSION = 1
REQUIREMENTS_NAME = "requirements.txt"
_SHOWN_DIGEST = 12


@dataclass(frozen=True, slots=True)
class PackageFile:
    """One file of a package: its path inside the folder, BLAKE3 digest and size."""

    path: str
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a package holds and how to load it; stored as ``loopml-model.json``.

    Attributes:
        format_version: the manifest format, :data:`FORMAT_VERSION` when written.
        flavor: the name of the flavor that saved the model.
        loader: the flavor's loader config (file names, class to rebuild, ...).
        signature: the model's inputs and outputs, when known.
        python_version: the Python that saved the model.
        libraries: installed versions of the libraries the model depends on.
        requirements: pip requirement lines to recreate the environment.
        files: every file of the package except the manifest itself.
        input_example: the file holding the input example, if one was given.
    """

    format_version: int
    flavor: str
    loader: dict[str, Any]
    signature: Signature | None
    python_version: str
    libraries: dict[str, str]
    requirements: tuple[str, ...]
    files: tuple[PackageFile, ...]
    input_example: str | None = None

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace; the same package gives the same bytes."""
        document = {
            "format_version": self.format_version,
            "flavor": self.flavor,
            "loader": self.loader,
            "signature": None if self.signature is None else self.signature.to_dict(),
            "python_version": self.python_version,
            "libraries": self.libraries,
            "requirements": list(self.requirements),
            "files": [{"path": f.path, "digest": f.digest, "size": f.size} for f in self.files],
            "input_example": self.input_example,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Read a manifest written by :meth:`to_json`.

        Raises:
            StoreError: the text is not JSON, a field is missing or has the wrong type, or
                the format is newer than this version of loopml reads.
        """
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise _malformed(f"not JSON ({exc})") from exc
        return _manifest_from(document)


def write_package(
    model: object,
    dest: Path,
    *,
    input_example: object = None,
    signature: Signature | None = None,
    flavor: str | None = None,
    options: Mapping[str, Any] | None = None,
    pip_requirements: Iterable[str] = (),
) -> Manifest:
    """Save ``model`` as a package in the empty (or new) folder ``dest``.

    Args:
        model: the model; its flavor is detected unless ``flavor`` names one.
        dest: the folder to write; created if missing, refused if not empty.
        input_example: a few rows of input (the first 100 are stored). Without an
            explicit ``signature`` the signature's inputs are inferred from it, and its
            outputs from running the model on it.
        signature: the model's signature; outputs are inferred when it has none.
        flavor: a flavor name, to insist on one (see ``loopml.registry._flavors``).
        options: flavor options, e.g. ``{"init_kwargs": {...}}`` for PyTorch.
        pip_requirements: extra requirement lines, overriding detected pins.

    Returns:
        The manifest, also written to ``dest / MANIFEST_NAME``.

    Raises:
        InvalidInput: the model is unsupported, ``dest`` is not empty, the example
            cannot become a signature, or the model fails to predict on it.
    """
    chosen = resolve_flavor(model, flavor)
    head = None if input_example is None else example_head(input_example)
    if input_example is not None:  # checked before anything is written
        signature = _complete_signature(chosen, model, signature, input_example, head)
    _prepare_folder(dest)
    try:
        return _write_files(chosen, model, dest, signature, head, options, pip_requirements)
    except BaseException:
        _empty_folder(dest)  # it was empty before: leave no half-written package
        raise


def _write_files(
    flavor: Flavor,
    model: object,
    dest: Path,
    signature: Signature | None,
    head: object,
    options: Mapping[str, Any] | None,
    pip_requirements: Iterable[str],
) -> Manifest:
    loader = flavor.save(model, dest, dict(options or {}))
    if head is not None:
        (dest / EXAMPLE_NAME).write_text(example_json(head), encoding="utf-8")
    modules = set(flavor.libraries())
    for pickled in sorted(dest.rglob("*.pkl")):
        modules |= pickle_modules(pickled)
    if isinstance(loader.get("class"), str):  # e.g. a PyTorch module's own package
        modules.add(loader["class"].split(".", 1)[0].split(":", 1)[0])
    libraries = library_versions(modules)
    requirements = requirement_lines(libraries, pip_requirements)
    lines = "".join(f"{line}\n" for line in requirements)
    (dest / REQUIREMENTS_NAME).write_text(lines, encoding="utf-8")
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        flavor=flavor.name,
        loader=loader,
        signature=signature,
        python_version=python_version(),
        libraries=libraries,
        requirements=requirements,
        files=_hash_folder(dest),
        input_example=None if head is None else EXAMPLE_NAME,
    )
    (dest / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def verify_files(manifest: Manifest, folder: Path) -> None:
    """Check that every file the manifest lists is in ``folder`` with its recorded digest.

    Raises:
        StoreError: a file is missing, differs from its recorded digest, or its path
            leads outside ``folder``.
    """
    root = folder.resolve()
    for file in manifest.files:
        path = _inside(root, file.path)
        try:
            found = hash_file(path)
        except NotFound as exc:
            raise StoreError(
                f"Model package file {file.path!r} is missing from {str(folder)!r}; the "
                "package is incomplete, so it cannot be loaded."
            ) from exc
        if found.digest != file.digest or found.size != file.size:
            raise StoreError(
                f"Model package file {file.path!r} does not match the hash recorded at "
                f"registration (expected {file.digest[:_SHOWN_DIGEST]}…, found "
                f"{found.digest[:_SHOWN_DIGEST]}…); refusing to load it."
            )


def load_package(
    manifest: Manifest,
    folder: Path,
    *,
    source: str | None = None,
    name: str | None = None,
    version: int | None = None,
) -> PackagedModel:
    """Verify the package's files, then load its model.

    Args:
        manifest: the manifest recorded at registration (not re-read from ``folder``).
        folder: the folder holding the package's files.
        source: where the model came from (a URI), shown in messages and ``repr``.
        name: the registered model's name, if any.
        version: the registered version, if any.

    Returns:
        The model, ready to predict.

    Raises:
        StoreError: a file fails verification, the manifest refers to files it does not
            list, or the model cannot be loaded (e.g. a library is missing).
    """
    verify_files(manifest, folder)
    flavor = _stored_flavor(manifest.flavor)
    listed = {file.path for file in manifest.files}
    if manifest.loader.get("file") not in listed:
        raise _malformed(f"loader.file {manifest.loader.get('file')!r} is not a listed file")
    try:
        raw = flavor.load(folder, manifest.loader)
    except LoopmlError:
        raise
    except Exception as exc:
        raise StoreError(
            f"Cannot load the {flavor.name} model: {type(exc).__name__}: {exc}. Install the "
            f"package's requirements ({', '.join(manifest.requirements) or 'none recorded'})."
        ) from exc
    example = None
    if manifest.input_example is not None:
        if manifest.input_example not in listed:
            raise _malformed(f"input_example {manifest.input_example!r} is not a listed file")
        example = (folder / manifest.input_example).read_text(encoding="utf-8")
    return PackagedModel(
        raw, manifest, flavor, example_json=example, source=source, name=name, version=version
    )


def _complete_signature(
    flavor: Flavor, model: object, signature: Signature | None, example: object, head: object
) -> Signature:
    """The given signature (or one inferred from ``example``) with outputs filled in."""
    if signature is None:
        signature = infer_signature(example)
    prepared = signature.prepare(head, want=flavor.wants(model))
    if signature.outputs is not None:
        return signature
    try:
        output = np.asarray(flavor.predict(model, prepared))
    except Exception as exc:
        raise InvalidInput(
            f"The model's predict failed on the input example ({type(exc).__name__}: {exc}); "
            "pass an example of what the model takes."
        ) from exc
    try:
        outputs = tensor_of(output, "model's output")
    except InvalidInput:  # outputs the vocabulary cannot describe are simply not recorded
        return signature
    return Signature(signature.inputs, outputs)


def _prepare_folder(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidInput(
            f"Cannot write a model package to {str(dest)!r}: it is not an empty folder."
        )
    dest.mkdir(parents=True, exist_ok=True)


def _empty_folder(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):  # files before their folders
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()


def _hash_folder(folder: Path) -> tuple[PackageFile, ...]:
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and relative != MANIFEST_NAME:
            ref = hash_file(path)
            files.append(PackageFile(relative, ref.digest, ref.size))
    return tuple(files)


def _inside(root: Path, relative: str) -> Path:
    path = (root / relative).resolve()
    if Path(relative).is_absolute() or not path.is_relative_to(root) or path == root:
        raise StoreError(
            f"Model package file path {relative!r} leads outside the package folder; "
            "refusing to load it."
        )
    return path


def _stored_flavor(name: str) -> Flavor:
    try:
        return get_flavor(name)
    except InvalidInput as exc:
        raise StoreError(
            f"The model package has flavor {name!r}, which this version of loopml does not "
            "know; upgrade loopml to load it."
        ) from exc


def _malformed(problem: str) -> StoreError:
    return StoreError(f"The model manifest is malformed: {problem}.")


def _manifest_from(document: object) -> Manifest:
    if not isinstance(document, dict):
        raise _malformed("expected a JSON object")
    version = _field(document, "format_version", int)
    if version > FORMAT_VERSION:
        raise StoreError(
            f"The model manifest has format {version}, newer than this version of loopml "
            f"reads ({FORMAT_VERSION}); upgrade loopml to load it."
        )
    raw_signature = document.get("signature")
    try:
        signature = None if raw_signature is None else Signature.from_dict(raw_signature)
    except InvalidInput as exc:
        raise _malformed(str(exc)) from exc
    libraries = _field(document, "libraries", dict)
    example = document.get("input_example")
    if not all(isinstance(v, str) for v in (*libraries, *libraries.values())):
        raise _malformed("libraries must map names to version strings")
    if example is not None and not isinstance(example, str):
        raise _malformed(f"input_example is {example!r}, expected a file name or null")
    return Manifest(
        format_version=version,
        flavor=_field(document, "flavor", str),
        loader=_field(document, "loader", dict),
        signature=signature,
        python_version=_field(document, "python_version", str),
        libraries=libraries,
        requirements=tuple(_strings(_field(document, "requirements", list), "requirements")),
        files=tuple(_file_from(item, i) for i, item in enumerate(_field(document, "files", list))),
        input_example=example,
    )


def _file_from(item: object, position: int) -> PackageFile:
    if not isinstance(item, dict):
        raise _malformed(f"files[{position}] is not an object")
    path = _field(item, "path", str, f"files[{position}].")
    digest = _field(item, "digest", str, f"files[{position}].")
    size = _field(item, "size", int, f"files[{position}].")
    return PackageFile(path, digest, size)


def _field(document: Mapping[str, Any], key: str, kind: type, prefix: str = "") -> Any:
    value = document.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _malformed(f"{prefix}{key} is {value!r}, expected {kind.__name__}")
    return value


def _strings(values: list[Any], where: str) -> list[str]:
    if not all(isinstance(value, str) for value in values):
        raise _malformed(f"{where} must be a list of strings")
    return values
