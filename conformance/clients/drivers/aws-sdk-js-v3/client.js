// A small program using aws-sdk-js-v3 as an application would, for `imdspec client-check`:
// credentials from the default Node.js chain (fromNodeProviderChain, which ends at
// @smithy/credential-provider-imds' fromInstanceMetadata), then the region and the instance id
// from @aws-sdk/ec2-metadata-service's MetadataService, in that order, stopping at the first
// failure. Exit 0 when all three loaded, 1 otherwise, 2 when the endpoint is not a loopback one.
"use strict";

const endpoint = process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT || "";
if (!endpoint.startsWith("http://127.0.0.1:")) {
  console.error(`refusing endpoint ${JSON.stringify(endpoint)}: not loopback`);
  process.exit(2);
}

const { fromNodeProviderChain } = require("@aws-sdk/credential-providers");
const { MetadataService } = require("@aws-sdk/ec2-metadata-service");

async function main() {
  let creds;
  try {
    creds = await fromNodeProviderChain()();
  } catch (e) {
    console.error(`credentials: ${e.name}: ${e.message}`);
    return 1;
  }
  // The key id is not secret; the secret key and session token are never printed.
  console.error(`credentials: access key id ${creds.accessKeyId}`);
  // The endpoint is passed explicitly, so no code path can reach the link-local default.
  const metadata = new MetadataService({ endpoint });
  for (const [what, path] of [
    ["region", "/latest/meta-data/placement/region"],
    ["instance-id", "/latest/meta-data/instance-id"],
  ]) {
    try {
      console.error(`${what}: ${await metadata.request(path, {})}`);
    } catch (e) {
      console.error(`${what}: ${e.name}: ${e.message}`);
      return 1;
    }
  }
  return 0;
}

main().then((code) => process.exit(code));
