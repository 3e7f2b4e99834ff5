"""Reading the YAML files users write (training configs, ``compare`` entries, ``sweep`` spaces): UTF-8 text
only, and a key given twice in one mapping is refused instead of silently taking its last value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ferlab.errors import FerlabError, first_line


def read_yaml(path: Path, what: str) -> Any:
    """The YAML document in the file at ``path``; a one-line `FerlabError` naming the file (and ``what`` it
    should hold) when it cannot be read, is not UTF-8 text, is not valid YAML or repeats a key."""
    import yaml  # the training extra's: only the research commands read YAML files

    class _UniqueKeys(yaml.SafeLoader):
        """A safe loader that refuses a key given twice in one mapping."""

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    line = key_node.start_mark.line + 1
                    raise yaml.constructor.ConstructorError(None, None, f"line {line}: the key {key!r} is given twice")
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise FerlabError(f"{path}: cannot read {what} (not UTF-8 text: byte {error.start})") from None
    except OSError as error:
        raise FerlabError(f"{path}: cannot read {what} ({error.strerror or error})") from None
    try:
        return yaml.load(text, Loader=_UniqueKeys)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise FerlabError(f"{path}: cannot read {what} ({first_line(error)})") from None
