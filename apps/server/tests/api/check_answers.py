"""Checks real answers of the server against the OpenAPI document it serves.

Reads {"document": {...}, "answers": [{"method", "path", "status", "body"}]} on stdin, where
`path` is the route's template (`/api/v1/users/{id}`). For each answer: the document must
describe that status for that operation, with a JSON schema the body conforms to (JSON
Schema 2020-12 with the OpenAPI 3.1 vocabulary, `$ref`s resolved inside the document).
Prints one line per problem and exits 1 if there is any.
"""

import json
import sys

from jsonschema.validators import Draft202012Validator
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOC_URI = "urn:pganalytics:openapi"


def pointer(*parts):
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def main():
    given = json.load(sys.stdin)
    doc = given["document"]
    registry = Registry().with_resource(
        DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    problems = []
    checked = 0
    for a in given["answers"]:
        where = f'{a["method"]} {a["path"]} -> {a["status"]}'
        op = doc["paths"].get(a["path"], {}).get(a["method"].lower())
        if op is None:
            problems.append(f"{where}: no such operation in the document")
            continue
        status = str(a["status"])
        response = op["responses"].get(status)
        if response is None:
            problems.append(f"{where}: status not documented ({sorted(op['responses'])})")
            continue
        if "$ref" in response:
            name = response["$ref"].rsplit("/", 1)[1]
            base = pointer("components", "responses", name)
            response = doc["components"]["responses"][name]
        else:
            base = pointer("paths", a["path"], a["method"].lower(), "responses", status)
        body = a["body"]
        content = response.get("content", {})
        if body is None:
            if "application/json" in content:
                problems.append(f"{where}: documented with a JSON body, answered without")
            continue
        if "application/json" not in content:
            problems.append(f"{where}: answered JSON the document does not describe")
            continue
        schema = {"$ref": f"{DOC_URI}#/{base}/content/{pointer('application/json')}/schema"}
        validator = OAS31Validator(schema, registry=registry)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
        for e in errors[:3]:
            at = "/".join(str(p) for p in e.absolute_path)
            problems.append(f"{where}: at /{at}: {e.message[:300]}")
        checked += 1
    # The document's own schemas are valid 2020-12 schemas.
    for name, s in doc.get("components", {}).get("schemas", {}).items():
        try:
            Draft202012Validator.check_schema(s)
        except Exception as e:  # noqa: BLE001 - reported, not raised
            problems.append(f"schema {name}: {e}")
    for p in problems:
        print(p)
    print(f"checked {checked}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
