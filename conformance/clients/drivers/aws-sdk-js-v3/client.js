// A small program using aws-sdk-js-v3 as an application would, for `imdspec client-check`.
// `--only credentials`: credentials from the default Node.js chain (fromNodeProviderChain,
// which ends at @smithy/credential-provider-imds' fromInstanceMetadata).
// `--only metadata-service`: the region and the instance id from @aws-sdk/ec2-metadata-service's
// MetadataService. Without `--only`, both, in that order; a failure does not stop the later
// components, so each is judged. Exit 0 when everything loaded, 1 otherwise, 2 when the
// endpoint is not a loopback one or the arguments are wrong.
"use strict";

const endpoint = process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT || "";
if (!endpoint.startsWith("http://127.0.0.1:")) {
  console.error(`refusing endpoint ${JSON.stringify(endpoint)}: not loopback`);
  process.exit(2);
}
const args = process.argv.slice(2);
const only = args[0] === "--only" ? args[1] : undefined;
if (args.length && !(args.length === 2 && ["credentials", "metadata-service"].includes(only))) {
  console.error("usage: client.js [--only credentials|metadata-service]");
  process.exit(2);
}

const { fromNodeProviderChain } = require("@aws-sdk/credential-providers");
const { MetadataService } = require("@aws-sdk/ec2-metadata-service");

async function credentials() {
  try {
    const creds = await fromNodeProviderChain()();
    // The key id is not secret; the secret key and session token are never printed.
    console.error(`credentials: access key id ${creds.accessKeyId}`);
    return 0;
  } catch (e) {
    console.error(`credentials: ${e.name}: ${e.message}`);
    return 1;
  }
}

async function metadataService() {
  // The endpoint is passed explicitly, so no code path can reach the link-local default.
  const metadata = new MetadataService({ endpoint });
  let code = 0;
  for (const [what, path] of [
    ["region", "/latest/meta-data/placement/region"],
    ["instance-id", "/latest/meta-data/instance-id"],
  ]) {
    try {
      console.error(`${what}: ${await metadata.request(path, {})}`);
    } catch (e) {
      console.error(`${what}: ${e.name}: ${e.message}`);
      code = 1;
    }
  }
  return code;
}

async function main() {
  let code = 0;
  if (only !== "metadata-service") code |= await credentials();
  if (only !== "credentials") code |= await metadataService();
  return code;
}

main().then((code) => process.exit(code));
