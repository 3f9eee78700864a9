"""YAML for files people hand us (config, scenarios), read with limits.

`yaml.safe_load` builds no arbitrary objects, but it still follows aliases: a "billion laughs"
file of a few hundred bytes names one list a billion times, and whatever walks the result
(validation, json.dumps) runs for ever. A config or a scenario is a few kilobytes and needs
few aliases, if any. So a document is refused, with a YamlLimitError (a yaml.YAMLError, so
callers that report bad YAML report this too), when it is larger than `max_bytes`, uses more
than `max_aliases` aliases, would expand to more than `max_nodes` nodes, refers to itself,
or nests deeper than the parser can follow. `read_text_limited` refuses a file over the size
before reading it, with a DocumentTooLarge (an OSError, as a file that cannot be read).
"""

from pathlib import Path
from typing import Any, Final

import yaml

MAX_DOCUMENT_BYTES: Final = 1_000_000
MAX_ALIASES: Final = 20
MAX_NODES: Final = 100_000  # nodes of the document with every alias expanded


class YamlLimitError(yaml.YAMLError):
    """A YAML document beyond the limits of this module; the message says which and where."""


class DocumentTooLarge(OSError):
    """A file larger than a configuration or scenario file can be."""


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader that counts the aliases it composes."""

    def __init__(self, stream: str, max_aliases: int) -> None:
        super().__init__(stream)
        self.max_aliases = max_aliases
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.max_aliases:
                mark = self.peek_event().start_mark
                raise YamlLimitError(
                    f"more than {self.max_aliases} aliases (*name), the {self.aliases}th at "
                    f"line {mark.line + 1}: refused (a file that repeats itself through aliases "
                    "can expand without bound)"
                )
        return super().compose_node(parent, index)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes under `root` with every alias expanded, counted without expanding (shared nodes
    are counted once per use). Raises YamlLimitError past `limit` or on a node that contains
    itself."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in _children(node))
            if sizes[key] > limit:
                raise YamlLimitError(
                    f"expands to more than {limit} values through aliases "
                    f"(at line {node.start_mark.line + 1}): refused"
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise YamlLimitError(
                f"a value contains itself through an alias (line {node.start_mark.line + 1})"
            )
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    return sizes[id(root)]


def load_yaml(
    text: str,
    *,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    max_aliases: int = MAX_ALIASES,
    max_nodes: int = MAX_NODES,
) -> Any:
    """`yaml.safe_load(text)` within the limits above; YamlLimitError beyond them."""
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        raise YamlLimitError(f"document is {size:,} bytes, more than the {max_bytes:,} allowed")
    loader = _LimitedLoader(text, max_aliases)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        expanded_size(node, max_nodes)
        return loader.construct_document(node)
    except RecursionError:
        raise YamlLimitError("document nests deeper than it can be read") from None
    finally:
        loader.dispose()


def read_text_limited(path: str | Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """The UTF-8 text of `path`; DocumentTooLarge (an OSError) for a file over `max_bytes`,
    found before reading it (and again while reading, for a file that grows or is a pipe)."""
    p = Path(path)
    size = p.stat().st_size
    if size > max_bytes:
        raise DocumentTooLarge(f"file is {size:,} bytes, more than the {max_bytes:,} allowed")
    with p.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DocumentTooLarge(f"file is more than the {max_bytes:,} bytes allowed")
    return data.decode("utf-8")
