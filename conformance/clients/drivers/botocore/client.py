#!/usr/bin/env python3
"""A small program using botocore's IMDS fetchers, for `imdspec client-check`.

It loads instance-profile credentials (InstanceMetadataFetcher), the region
(InstanceMetadataRegionFetcher) and the instance id (IMDSFetcher), in that order, stopping at
the first failure. Exit status 0 when all three loaded, 1 otherwise, 2 when the endpoint is not
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

    try:
        creds = InstanceMetadataFetcher(**settings).retrieve_iam_role_credentials()
    except Exception as e:  # botocore raises some errors past its own handlers
        print(f"credentials: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if not creds:
        print("credentials: not loaded", file=sys.stderr)
        return 1
    # The key id is not secret; the secret key and session token are never printed.
    print(f"credentials: access key id {creds['access_key']}", file=sys.stderr)

    try:
        region = InstanceMetadataRegionFetcher(**settings).retrieve_region()
    except Exception as e:
        print(f"region: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if not region:
        print("region: not loaded", file=sys.stderr)
        return 1
    print(f"region: {region}", file=sys.stderr)

    try:
        fetcher = IMDSFetcher(**settings)
        token = fetcher._fetch_metadata_token()
        instance_id = fetcher._get_request("latest/meta-data/instance-id", None, token).text
    except Exception as e:
        print(f"instance-id: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"instance-id: {instance_id}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
