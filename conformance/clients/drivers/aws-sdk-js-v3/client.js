// A small program using aws-sdk-js-v3 as an application would, for `imdspec client-check`.
// `--use chain`: credentials from the default Node.js chain (fromNodeProviderChain, which ends
// at @smithy/credential-provider-imds' fromInstanceMetadata).
// `--use metadata-service`: the region and the instance id from @aws-sdk/ec2-metadata-service's
// MetadataService.
// `--only COMPONENT` loads one component of those; `--again-after-ms N` loads them again N ms
// after the start with the same provider or service. A failure does not stop the later
// components, so each is judged. Exit 0 when everything loaded, 1 otherwise, 2 when the
// endpoint is not a loopback one or the arguments are wrong.
"use strict";

const started = Date.now();
const endpoint = process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT || "";
if (!endpoint.startsWith("http://127.0.0.1:")) {
  console.error(`refusing endpoint ${JSON.stringify(endpoint)}: not loopback`);
  process.exit(2);
}
const USES = { chain: ["credentials"], "metadata-service": ["region", "instance-id"] };
function usage() {
  console.error(
    "usage: client.js --use chain|metadata-service [--only credentials|region|instance-id] [--again-after-ms N]",
  );
  process.exit(2);
}
let use, only, againMs;
for (let args = process.argv.slice(2); args.length; args = args.slice(2)) {
  const [flag, value] = args;
  if (value === undefined) usage();
  if (flag === "--use" && value in USES) use = value;
  else if (flag === "--only") only = value;
  else if (flag === "--again-after-ms" && /^[0-9]+$/.test(value)) againMs = Number(value);
  else usage();
}
if (!use || (only !== undefined && !USES[use].includes(only))) usage();
const components = only ? [only] : USES[use];

const { fromNodeProviderChain } = require("@aws-sdk/credential-providers");
const { MetadataService } = require("@aws-sdk/ec2-metadata-service");

// One provider and one service for the run, as an application keeps them.
const chain = use === "chain" ? fromNodeProviderChain() : undefined;
// The endpoint is passed explicitly, so no code path can reach the link-local default.
const metadata = use === "metadata-service" ? new MetadataService({ endpoint }) : undefined;

const LOADS = {
  credentials: async () => {
    const creds = await chain();
    // The key id is not secret; the secret key and session token are never printed.
    return `access key id ${creds.accessKeyId}`;
  },
  region: () => metadata.request("/latest/meta-data/placement/region", {}),
  "instance-id": () => metadata.request("/latest/meta-data/instance-id", {}),
};

async function loadAll() {
  let code = 0;
  for (const what of components) {
    try {
      console.error(`${what}: ${await LOADS[what]()}`);
    } catch (e) {
      console.error(`${what}: ${e.name}: ${e.message}`);
      code = 1;
    }
  }
  return code;
}

async function main() {
  let code = await loadAll();
  if (againMs !== undefined) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + againMs - Date.now())));
    code |= await loadAll();
  }
  return code;
}

main().then((code) => process.exit(code));
