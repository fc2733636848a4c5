"""Validates `imdspec probe` fleet outputs against the real schemas, never a hand-written list.

    validate.py ocsf FILE...           OCSF events: the JSON Schema of the event's own class,
                                       version (metadata.version) and profiles
                                       (metadata.profiles), made by ocsf-json-schema from the
                                       official export of that version
    validate.py asff FILE...           the --findings array of `aws securityhub
                                       batch-import-findings`: BatchImportFindings' input shape
    validate.py ssm-inventory FILE...  the --items array of `aws ssm put-inventory`: PutInventory's
                                       input shape (InstanceId from the item's Content)

AWS shapes are checked twice: by botocore's own parameter validation (what the CLI runs before
sending), and against every limit the service model records (min, max, pattern, enum), which
the service enforces but botocore does not check on the client.

Prints one line per file (`FILE: ok`, or `FILE: ` and each error); exit 0 when all are valid,
1 when one is not, 2 on a usage error.
"""

import json
import re
import sys

USAGE = "usage: validate.py ocsf|asff|ssm-inventory FILE..."


def ocsf_errors(event):
    import jsonschema
    from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema, get_packaged_versions

    meta = event.get("metadata", {})
    version = meta.get("version")
    if version not in get_packaged_versions():
        return [f"metadata.version {version!r} is not an OCSF release"]
    schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version))
    try:
        name = schema.lookup_class_name_from_uid(event.get("class_uid"))
    except Exception:
        return [f"class_uid {event.get('class_uid')!r} is not a class of OCSF {version}"]
    json_schema = schema.get_class_schema(name, profiles=meta.get("profiles", []))
    validator = jsonschema.Draft202012Validator(json_schema)
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(event)'}: {e.message}"
        for e in sorted(validator.iter_errors(event), key=lambda e: list(map(str, e.path)))
    ]


def model_limits(value, shape, path, errors):
    """Every min, max, pattern and enum the service model records, walked with the value."""
    meta = shape.metadata
    where = path or "(input)"
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for key, member in shape.members.items():
            if key in value:
                model_limits(value[key], member, f"{path}.{key}" if path else key, errors)
        return
    if kind == "list" and isinstance(value, list):
        size = len(value)
        for i, item in enumerate(value):
            model_limits(item, shape.member, f"{path}[{i}]", errors)
    elif kind == "map" and isinstance(value, dict):
        size = len(value)
        for k, v in value.items():
            model_limits(k, shape.key, f"{path} key {k!r}", errors)
            model_limits(v, shape.value, f"{path}.{k}", errors)
    elif kind == "string" and isinstance(value, str):
        size = len(value)
        if shape.enum and value not in shape.enum:
            errors.append(f"{where}: {value!r} is not one of {shape.enum}")
        pattern = meta.get("pattern")
        if pattern is not None and re.fullmatch(pattern, value, re.DOTALL) is None:
            errors.append(f"{where}: {value!r} does not match the pattern {pattern!r}")
    else:
        return
    if "min" in meta and size < meta["min"]:
        errors.append(f"{where}: {size} is under the minimum {meta['min']}")
    if "max" in meta and size > meta["max"]:
        errors.append(f"{where}: {size} is over the maximum {meta['max']}")


def aws_errors(service, operation, params):
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    errors = [report.generate_report()] if report.has_errors() else []
    model_limits(params, shape, "", errors)
    return errors


def asff(findings):
    return aws_errors("securityhub", "BatchImportFindings", {"Findings": findings})


def ssm_inventory(items):
    ids = {c.get("InstanceId") for item in items for c in item.get("Content", [])}
    if len(ids) != 1:
        return [f"the items name {len(ids)} instance ids ({sorted(map(str, ids))}), not one"]
    return aws_errors("ssm", "PutInventory", {"InstanceId": ids.pop(), "Items": items})


def main(argv):
    checks = {"ocsf": ocsf_errors, "asff": asff, "ssm-inventory": ssm_inventory}
    if len(argv) < 2 or argv[0] not in checks:
        print(USAGE, file=sys.stderr)
        return 2
    check = checks[argv[0]]
    failed = False
    for path in argv[1:]:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            errors = check(doc)
        except (OSError, ValueError) as e:
            errors = [f"cannot read: {e}"]
        failed = failed or bool(errors)
        print(f"{path}: " + ("ok" if not errors else "\n  ".join([""] + errors)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
