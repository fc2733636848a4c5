// A small program using aws-sdk-java (v1) as an application would, for `imdspec client-check`:
// InstanceProfileCredentialsProvider, the region (EC2MetadataUtils.getEC2InstanceRegion) and
// the instance id (EC2MetadataUtils.getInstanceId), in that order, stopping at the first
// failure. Exit 0 when all three loaded, 1 otherwise, 2 when the endpoint is not a loopback one.
package imdspec;

import com.amazonaws.auth.AWSCredentials;
import com.amazonaws.auth.InstanceProfileCredentialsProvider;
import com.amazonaws.util.EC2MetadataUtils;

public final class Driver {
    public static void main(String[] args) {
        System.exit(run());
    }

    static int run() {
        // Every v1 IMDS call reads this variable itself (SDKGlobalConfiguration); there is no
        // other way to give the endpoint, so it is checked before any of them runs.
        String endpoint = System.getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        if (endpoint == null || !endpoint.startsWith("http://127.0.0.1:")) {
            System.err.printf("refusing endpoint \"%s\": not loopback%n", endpoint);
            return 2;
        }
        // A new provider, not getInstance(): no background refresh thread outlives the run.
        InstanceProfileCredentialsProvider provider = new InstanceProfileCredentialsProvider(false);
        try {
            AWSCredentials creds = provider.getCredentials();
            // The key id is not secret; the secret key and session token are never printed.
            System.err.println("credentials: access key id " + creds.getAWSAccessKeyId());
        } catch (RuntimeException e) {
            System.err.println("credentials: " + e);
            return 1;
        } finally {
            try {
                provider.close();
            } catch (java.io.IOException e) {
                System.err.println("credentials: close: " + e);
            }
        }
        String region;
        try {
            region = EC2MetadataUtils.getEC2InstanceRegion();
        } catch (RuntimeException e) {
            System.err.println("region: " + e);
            return 1;
        }
        if (region == null) {
            System.err.println("region: not loaded");
            return 1;
        }
        System.err.println("region: " + region);
        String id;
        try {
            id = EC2MetadataUtils.getInstanceId();
        } catch (RuntimeException e) {
            System.err.println("instance-id: " + e);
            return 1;
        }
        if (id == null) {
            System.err.println("instance-id: not loaded");
            return 1;
        }
        System.err.println("instance-id: " + id);
        return 0;
    }
}
