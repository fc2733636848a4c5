#!/usr/bin/env python3
"""A small program using botocore's IMDS fetchers, for `imdspec client-check`.

It loads instance-profile credentials (InstanceMetadataProvider, as botocore's credential
resolver builds it), the region (InstanceMetadataRegionFetcher) and the instance id
(IMDSFetcher), in that order; a failure does not stop the later components, so each is judged.
`--only COMPONENT` loads one of them; `--again-after-ms N` loads them again N ms after the
start with the same objects (the credentials are read through the same RefreshableCredentials,
as a client that signs a later request). Exit status 0 when everything loaded, 1 otherwise, 2
when the endpoint is not a loopback one or the arguments are wrong, 3 when botocore is missing.

The fetchers read the endpoint only from their `config` dict (botocore/utils.py, IMDSFetcher), so it is
taken from the session's `ec2_metadata_service_endpoint` variable (which reads
AWS_EC2_METADATA_SERVICE_ENDPOINT) and checked to be loopback before any request; the other
settings come from the session too, as botocore's own credential resolver does.
"""
import sys
import time

STARTED = time.monotonic()
COMPONENTS = ["credentials", "region", "instance-id"]

try:
    import botocore.session
    from botocore.credentials import InstanceMetadataProvider
    from botocore.utils import (
        IMDSFetcher,
        InstanceMetadataFetcher,
        InstanceMetadataRegionFetcher,
    )
except ImportError as e:
    print(f"botocore is not installed: {e}", file=sys.stderr)
    sys.exit(3)


def parse_args(args):
    """(components, seconds before loading again or None), or None for bad arguments."""
    components, again = COMPONENTS, None
    while args:
        if len(args) < 2:
            return None
        flag, value, args = args[0], args[1], args[2:]
        if flag == "--only" and value in COMPONENTS:
            components = [value]
        elif flag == "--again-after-ms" and value.isdigit():
            again = int(value) / 1000
        else:
            return None
    return components, again


def main():
    parsed = parse_args(sys.argv[1:])
    if parsed is None:
        print(f"usage: client.py [--only {'|'.join(COMPONENTS)}] [--again-after-ms N]", file=sys.stderr)
        return 2
    components, again = parsed
    session = botocore.session.get_session()
    endpoint = session.get_config_variable("ec2_metadata_service_endpoint") or ""
    if not endpoint.startswith("http://127.0.0.1"):
        print(f"refusing endpoint {endpoint!r}: not loopback", file=sys.stderr)
        return 2
    config = {
        "ec2_metadata_service_endpoint": endpoint,
        "ec2_metadata_v1_disabled": session.get_config_variable("ec2_metadata_v1_disabled"),
    }
    settings = dict(
        timeout=session.get_config_variable("metadata_service_timeout"),
        num_attempts=session.get_config_variable("metadata_service_num_attempts"),
        config=config,
    )

    provider = InstanceMetadataProvider(iam_role_fetcher=InstanceMetadataFetcher(**settings))
    held = []

    def credentials():
        if not held:
            creds = provider.load()
            if not creds:
                return None
            held.append(creds)
        # Reading them refreshes them when they are (about to be) expired. The key id is not
        # secret; the secret key and session token are never printed.
        return f"access key id {held[0].get_frozen_credentials().access_key}"

    def region():
        return InstanceMetadataRegionFetcher(**settings).retrieve_region()

    def instance_id():
        fetcher = IMDSFetcher(**settings)
        token = fetcher._fetch_metadata_token()
        return fetcher._get_request("latest/meta-data/instance-id", None, token).text

    loads = {"credentials": credentials, "region": region, "instance-id": instance_id}

    def load_all():
        code = 0
        for what in components:
            try:
                value = loads[what]()
            except Exception as e:  # botocore raises some errors past its own handlers
                print(f"{what}: {type(e).__name__}: {e}", file=sys.stderr)
                code = 1
                continue
            if not value:
                print(f"{what}: not loaded", file=sys.stderr)
                code = 1
                continue
            print(f"{what}: {value}", file=sys.stderr)
        return code

    code = load_all()
    if again is not None:
        time.sleep(max(0.0, again - (time.monotonic() - STARTED)))
        code |= load_all()
    return code


if __name__ == "__main__":
    sys.exit(main())
