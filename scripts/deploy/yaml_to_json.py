"""Prints the YAML documents of a file as one JSON array (anchors and merge keys resolved), for
the deploy/ tests, which read manifests and compose files with Foundation's JSON parser.

Usage: python yaml_to_json.py FILE
"""

import json
import sys

import yaml

with open(sys.argv[1], encoding="utf-8") as file:
    json.dump([document for document in yaml.safe_load_all(file) if document is not None], sys.stdout)
