"""The YAML loaders ctsdsl reads every YAML file with: claims, test cases, payer maps and policy data.

In a module of their own because PyYAML's import is a tenth of a cached start-up: a run that
reads only JSON (`ctsdsl eval claim.json`, a batch of JSON Lines) never imports it. Callers
import this module where they parse YAML.
"""

from __future__ import annotations

import contextlib
import re
from decimal import Decimal

import yaml

from ..limits import MAX_NUMBER_DIGITS, MAX_YAML_DEPTH, yaml_problem


class YamlDuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping that gives one key twice (PyYAML would keep the last silently)."""


class YamlNumberTooLongError(yaml.constructor.ConstructorError):
    """A YAML integer of more digits than any count or amount has (and than int() converts)."""


class StrictYamlLoader(yaml.SafeLoader):
    """Safe YAML that rejects repeated keys, alias bombs and loops and, like JSON, keeps dates as strings.

    Every YAML ctsdsl reads goes through it: claims, test cases and policy data files.
    """

    _depth = 0

    def compose_node(self, parent, index):
        # Stop deep nesting early: the scanner's cost grows with the square of the depth.
        if self._depth >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_YAML_DEPTH} levels deep",
                                              self.peek_event().start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_document(self, node):
        problem = yaml_problem(node)
        if problem:
            raise yaml.constructor.ConstructorError(None, None, problem[0], problem[1].start_mark)
        return super().construct_document(node)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: set = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # keys merged in with << may be overridden, by design
                key = self.construct_object(key_node, deep=deep)
                with contextlib.suppress(TypeError):  # an unhashable key: the base class reports it
                    if key in seen:
                        raise YamlDuplicateKeyError("while constructing a mapping", node.start_mark,
                                                    f"found duplicate key {key!r}", key_node.start_mark)
                    seen.add(key)
        return super().construct_mapping(node, deep)

    def construct_yaml_int(self, node):
        # int() refuses past 4300 digits with a ValueError that has no place in the file
        if sum(ch.isdigit() for ch in self.construct_scalar(node)) > MAX_NUMBER_DIGITS:
            raise YamlNumberTooLongError(None, None, f"a number of more than {MAX_NUMBER_DIGITS} digits",
                                         node.start_mark)
        return super().construct_yaml_int(node)


StrictYamlLoader.add_constructor("tag:yaml.org,2002:int", StrictYamlLoader.construct_yaml_int)

# Numbers are ASCII digits, as in JSON: YAML 1.1 also reads 1:30 as 90 (base 60), 1_0 as 10,
# 0x1F and 0b11 as numbers (and 0x_ as a crash). Those stay strings here, for the schema or the
# table to refuse. Plain decimals, 0-led octal (02, as YAML 1.1 reads it) and floats with a point
# (1e5 without one is text in YAML 1.1, and stays text) are numbers as before.
_STRICT_NUMBERS = {
    "tag:yaml.org,2002:int": re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|[-+]?0[0-7]+)$"),
    "tag:yaml.org,2002:float": re.compile(r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+][0-9]+)?"
                                          r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
}
# An unquoted 2024-03-15 must stay the string the schema asks for, not become a
# datetime.date that fails "type: string" with a baffling message.
StrictYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, _STRICT_NUMBERS.get(tag, regexp)) for tag, regexp in resolvers
            if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class TableYamlLoader(StrictYamlLoader):
    """YAML rows read like CSV cells: `02` stays the text "02" (a code), and `1.59` an exact decimal."""


def _int_or_code(loader: TableYamlLoader, node: yaml.ScalarNode) -> object:
    text = loader.construct_scalar(node)
    if re.match(r"^[-+]?0[0-9]", text):  # YAML would read 02 as the number 2 (or as octal)
        return text
    return loader.construct_yaml_int(node)


def _exact_decimal(loader: TableYamlLoader, node: yaml.ScalarNode) -> object:
    text = loader.construct_scalar(node)
    try:  # through a float, 12345678901234567.89 would lose its last digits
        return Decimal(text.replace("_", ""))
    except ArithmeticError:  # .inf, .nan: not amounts; the float keeps what YAML meant
        return loader.construct_yaml_float(node)


TableYamlLoader.add_constructor("tag:yaml.org,2002:int", _int_or_code)
TableYamlLoader.add_constructor("tag:yaml.org,2002:float", _exact_decimal)
