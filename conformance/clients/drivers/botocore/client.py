#!/usr/bin/env python3
"""A small program using botocore's IMDS fetchers, for `imdspec client-check`.

It loads instance-profile credentials (InstanceMetadataFetcher), the region
(InstanceMetadataRegionFetcher) and the instance id (IMDSFetcher), in that order; a failure
does not stop the later components, so each is judged. Exit status 0 when all three loaded, 1
otherwise, 2 when the endpoint is not
a loopback one, 3 when botocore is missing.

The fetchers read the endpoint only from their `config` dict (botocore/utils.py, IMDSFetcher), so it is
taken from the session's `ec2_metadata_service_endpoint` variable (which reads
AWS_EC2_METADATA_SERVICE_ENDPOINT) and checked to be loopback before any request; the other
settings come from the session too, as botocore's own credential resolver does.
"""
import sys

try:
    import botocore.session
    from botocore.utils import (
        IMDSFetcher,
        InstanceMetadataFetcher,
        InstanceMetadataRegionFetcher,
    )
except ImportError as e:
    print(f"botocore is not installed: {e}", file=sys.stderr)
    sys.exit(3)


def main():
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

    def credentials():
        creds = InstanceMetadataFetcher(**settings).retrieve_iam_role_credentials()
        # The key id is not secret; the secret key and session token are never printed.
        return creds and f"access key id {creds['access_key']}"

    def region():
        return InstanceMetadataRegionFetcher(**settings).retrieve_region()

    def instance_id():
        fetcher = IMDSFetcher(**settings)
        token = fetcher._fetch_metadata_token()
        return fetcher._get_request("latest/meta-data/instance-id", None, token).text

    code = 0
    for what, load in [("credentials", credentials), ("region", region), ("instance-id", instance_id)]:
        try:
            value = load()
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


if __name__ == "__main__":
    sys.exit(main())
