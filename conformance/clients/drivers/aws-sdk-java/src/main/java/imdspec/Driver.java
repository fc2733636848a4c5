// A small program using aws-sdk-java (v1) as an application would, for `imdspec client-check`:
// InstanceProfileCredentialsProvider, the region (EC2MetadataUtils.getEC2InstanceRegion) and
// the instance id (EC2MetadataUtils.getInstanceId), in that order; a failure does not stop the
// later components, so each is judged. `--only COMPONENT` loads one of them;
// `--again-after-ms N` loads them again N ms after the start with the same provider. Exit 0
// when everything loaded, 1 otherwise, 2 when the endpoint is not a loopback one or the
// arguments are wrong.
package imdspec;

import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import com.amazonaws.auth.AWSCredentials;
import com.amazonaws.auth.InstanceProfileCredentialsProvider;
import com.amazonaws.util.EC2MetadataUtils;

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
        // Every v1 IMDS call reads this variable itself (SDKGlobalConfiguration); there is no
        // other way to give the endpoint, so it is checked before any of them runs.
        String endpoint = System.getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        if (endpoint == null || !endpoint.startsWith("http://127.0.0.1:")) {
            System.err.printf("refusing endpoint \"%s\": not loopback%n", endpoint);
            return 2;
        }
        // A new provider, not getInstance(): no background refresh thread outlives the run.
        InstanceProfileCredentialsProvider provider = new InstanceProfileCredentialsProvider(false);
        Map<String, Callable<String>> loads = Map.of(
                "credentials", () -> {
                    AWSCredentials creds = provider.getCredentials();
                    // The key id is not secret; the secret key and session token are never
                    // printed.
                    return "access key id " + creds.getAWSAccessKeyId();
                },
                "region", EC2MetadataUtils::getEC2InstanceRegion,
                "instance-id", EC2MetadataUtils::getInstanceId);
        try {
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
            try {
                provider.close();
            } catch (java.io.IOException e) {
                System.err.println("credentials: close: " + e);
            }
        }
    }

    static int loadAll(List<String> only, Map<String, Callable<String>> loads) {
        int code = 0;
        for (String what : only) {
            try {
                String value = loads.get(what).call();
                if (value == null) {
                    System.err.println(what + ": not loaded");
                    code = 1;
                } else {
                    System.err.println(what + ": " + value);
                }
            } catch (Exception e) {
                System.err.println(what + ": " + e);
                code = 1;
            }
        }
        return code;
    }
}
