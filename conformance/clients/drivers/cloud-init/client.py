#!/usr/bin/python3
"""cloud-init's EC2 datasource crawling the metadata service, for `imdspec client-check`.

It builds Debian's cloud-init DataSourceEc2 with `metadata_urls` set to the loopback endpoint
given in AWS_EC2_METADATA_SERVICE_ENDPOINT (so it never tries the link-local default), tells it
it runs on AWS (the platform check reads DMI, which says nothing here), and runs its boot-time
crawl (token, then user-data, meta-data and the identity document). It then looks in what was
crawled for the region and the instance id. The crawl skips iam/security-credentials/ on purpose
(cloudinit/sources/helpers/ec2.py), so credentials are n/a for this client. Exit 0 when both
were found, 1 otherwise, 2 when the endpoint is not a loopback one.

Timeouts are configured as a deployment that wants a quick answer would (datasource `timeout`
and `max_wait`, documented cloud-init settings); the defaults wait up to 120 s.
"""
import os
import sys
import tempfile

ENDPOINT = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "")


def main():
    if not ENDPOINT.startswith("http://127.0.0.1:"):
        print(f"refusing endpoint {ENDPOINT!r}: not loopback", file=sys.stderr)
        return 2
    from cloudinit import distros, helpers
    from cloudinit.sources import DataSourceEc2 as ec2

    with tempfile.TemporaryDirectory() as tmp:
        paths = helpers.Paths({"cloud_dir": tmp, "run_dir": tmp})
        distro = distros.fetch("debian")("debian", {}, paths)
        sys_cfg = {
            "datasource": {
                "Ec2": {
                    "metadata_urls": [ENDPOINT.rstrip("/")],
                    "timeout": 2,
                    "max_wait": 10,
                }
            }
        }
        ds = ec2.DataSourceEc2(sys_cfg, distro, paths)
        ds._cloud_name = ec2.CloudNames.AWS
        if not ds._get_data():
            print("crawl: no metadata", file=sys.stderr)
            return 1
        md = ds.metadata or {}
        region = ds.region
        if not region:
            print("region: not in the crawled metadata", file=sys.stderr)
            return 1
        print(f"region: {region}", file=sys.stderr)
        instance_id = md.get("instance-id")
        if not instance_id:
            print("instance-id: not in the crawled metadata", file=sys.stderr)
            return 1
        print(f"instance-id: {instance_id}", file=sys.stderr)
        return 0


if __name__ == "__main__":
    sys.exit(main())
