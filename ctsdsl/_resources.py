"""Where the bundled schemas and policies live, installed or in a checkout.

A wheel carries them inside the package under ``ctsdsl/_data`` (see the
``force-include`` table in pyproject.toml); a source checkout or an editable
install keeps them at the top of the repository, where reviewers find them.
"""

from __future__ import annotations

from pathlib import Path

from .errors import CtsdslError, Diagnostic

# The package's own folder: an installed wheel is a plain folder on disk, so this is what
# importlib.resources would give, without the 6-10 ms of importing it on every start.
PACKAGE_DIR = Path(__file__).parent


def _data_dir(name: str) -> Path:
    """The directory of bundled ``name`` files (``schemas`` or ``policies``)."""
    candidates = [PACKAGE_DIR / "_data" / name, PACKAGE_DIR.resolve().parent / name]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    try:  # a zipped or otherwise unusual install: only its loader knows; callers open files by path
        import importlib.resources
        packaged = Path(str(importlib.resources.files("ctsdsl") / "_data" / name))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - exotic loaders
        pass
    else:
        if packaged.is_dir():
            return packaged
        candidates.append(packaged)
    raise CtsdslError(
        Diagnostic(
            code="missing-resource",
            message=f"cannot find the bundled {name} directory",
            source_name="ctsdsl",
            hint="looked in " + " and ".join(str(c) for c in candidates)
            + "; reinstall ctsdsl or run from a full source checkout",
        )
    )


def schema_path(name: str) -> Path:
    """Return the path of a bundled JSON Schema file.

    Args:
        name: The file name, e.g. ``claim.schema.json``.

    Returns:
        The absolute path of the schema file.

    Raises:
        CtsdslError: If the schemas directory or the file cannot be found.
    """
    path = _data_dir("schemas") / name
    if not path.is_file():
        raise CtsdslError(
            Diagnostic(
                code="missing-resource",
                message=f"the bundled schema {name!r} is missing",
                source_name=str(path),
                hint="reinstall ctsdsl or run from a full source checkout",
            )
        )
    return path


def policies_dir() -> Path:
    """Return the directory of bundled policies.

    Raises:
        CtsdslError: If neither the packaged nor the checkout directory exists.
    """
    return _data_dir("policies")


def policies_folder_above(path: Path) -> Path | None:
    """The nearest folder named `policies` above `path`: the root of its policy tree, which `extends`
    may reach and decisions name files relative to (docs/overlays.md); None outside any."""
    return next((p for p in path.parents if p.name == "policies"), None)
