"""Validates compose files against the Compose Specification's JSON schema.

The schema is the copy check-jsonschema ships (check_jsonschema/builtin_schemas/vendor/compose-spec.json,
from the compose-spec project, Apache-2.0: vendor/licenses/LICENSE.compose-spec in that package).
Prints one line per violation (file, JSON path, message) and exits 1 if there is any.

Usage: python validate_compose.py FILE...
"""

import importlib.resources
import json
import sys

import jsonschema
import yaml


def compose_schema():
    vendored = importlib.resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(vendored.read_text(encoding="utf-8"))


def main(paths):
    validator_class = jsonschema.validators.validator_for(compose_schema())
    validator = validator_class(compose_schema(), format_checker=validator_class.FORMAT_CHECKER)
    failures = 0
    for path in paths:
        with open(path, encoding="utf-8") as file:
            document = yaml.safe_load(file)
        for error in sorted(validator.iter_errors(document), key=lambda e: e.json_path):
            print(f"{path}: {error.json_path}: {error.message}")
            failures += 1
        if failures == 0:
            print(f"{path}: valid ({compose_schema().get('title')}, {validator_class.__name__})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
