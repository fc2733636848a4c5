// A small program using aws-sdk-java-v2 as an application would, for `imdspec client-check`:
// InstanceProfileCredentialsProvider, InstanceProfileRegionProvider and Ec2MetadataClient (the
// instance id), in that order; a failure does not stop the later components, so each is
// judged. `--only COMPONENT` loads one of them; `--again-after-ms N` loads them again N ms
// after the start with the same provider and client. Exit 0 when everything loaded, 1
// otherwise, 2 when the endpoint is not a loopback one or the arguments are wrong.
package imdspec;

import java.net.URI;
import java.util.List;
import java.util.concurrent.Callable;

import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.InstanceProfileCredentialsProvider;
import software.amazon.awssdk.imds.Ec2MetadataClient;
import software.amazon.awssdk.regions.providers.InstanceProfileRegionProvider;

public final class Driver {
    static final List<String> COMPONENTS = List.of("credentials", "region", "instance-id");

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int usage() {
        System.err.println(
                "usage: Driver [--only credentials|region|instance-id] [--again-after-ms N]");
        return 2;
    }

    static int run(String[] args) {
        long started = System.nanoTime();
        List<String> only = COMPONENTS;
        long againMs = -1;
        for (int i = 0; i < args.length; i += 2) {
            if (i + 1 >= args.length) return usage();
            if (args[i].equals("--only") && COMPONENTS.contains(args[i + 1])) {
                only = List.of(args[i + 1]);
            } else if (args[i].equals("--again-after-ms") && args[i + 1].matches("[0-9]+")) {
                againMs = Long.parseLong(args[i + 1]);
            } else {
                return usage();
            }
        }
        String endpoint = System.getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        if (endpoint == null || !endpoint.startsWith("http://127.0.0.1:")) {
            System.err.printf("refusing endpoint \"%s\": not loopback%n", endpoint);
            return 2;
        }
        // The providers read AWS_EC2_METADATA_SERVICE_ENDPOINT and the other AWS_EC2_METADATA_*
        // settings themselves; the endpoint is given explicitly too where a builder takes it, so
        // no code path can reach the link-local default. Each is built once, when first used.
        InstanceProfileCredentialsProvider[] provider = {null};
        InstanceProfileRegionProvider[] regions = {null};
        Ec2MetadataClient[] client = {null};
        try {
            java.util.Map<String, Callable<String>> loads = java.util.Map.of(
                    "credentials", () -> {
                        if (provider[0] == null) {
                            provider[0] = InstanceProfileCredentialsProvider.builder()
                                    .endpoint(endpoint).build();
                        }
                        AwsCredentials creds = provider[0].resolveCredentials();
                        // The key id is not secret; the secret key and session token are never
                        // printed.
                        return "access key id " + creds.accessKeyId();
                    },
                    "region", () -> {
                        if (regions[0] == null) regions[0] = new InstanceProfileRegionProvider();
                        return regions[0].getRegion().id();
                    },
                    "instance-id", () -> {
                        if (client[0] == null) {
                            client[0] = Ec2MetadataClient.builder()
                                    .endpoint(URI.create(endpoint)).build();
                        }
                        return client[0].get("/latest/meta-data/instance-id").asString();
                    });
            int code = loadAll(only, loads);
            if (againMs >= 0) {
                long waitMs = againMs - (System.nanoTime() - started) / 1_000_000;
                if (waitMs > 0) Thread.sleep(waitMs);
                code |= loadAll(only, loads);
            }
            return code;
        } catch (InterruptedException e) {
            return 1;
        } finally {
            if (provider[0] != null) provider[0].close();
            if (client[0] != null) client[0].close();
        }
    }

    static int loadAll(List<String> only, java.util.Map<String, Callable<String>> loads) {
        int code = 0;
        for (String what : only) {
            try {
                System.err.println(what + ": " + loads.get(what).call());
            } catch (Exception e) {
                System.err.println(what + ": " + e);
                code = 1;
            }
        }
        return code;
    }
}
