// A small program using aws-sdk-java-v2 as an application would, for `imdspec client-check`:
// InstanceProfileCredentialsProvider, InstanceProfileRegionProvider and Ec2MetadataClient (the
// instance id), in that order, stopping at the first failure. Exit 0 when all three loaded, 1
// otherwise, 2 when the endpoint is not a loopback one.
package imdspec;

import java.net.URI;

import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.InstanceProfileCredentialsProvider;
import software.amazon.awssdk.imds.Ec2MetadataClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.InstanceProfileRegionProvider;

public final class Driver {
    public static void main(String[] args) {
        System.exit(run());
    }

    static int run() {
        String endpoint = System.getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        if (endpoint == null || !endpoint.startsWith("http://127.0.0.1:")) {
            System.err.printf("refusing endpoint \"%s\": not loopback%n", endpoint);
            return 2;
        }
        // The providers read AWS_EC2_METADATA_SERVICE_ENDPOINT and the other AWS_EC2_METADATA_*
        // settings themselves; the endpoint is given explicitly too where a builder takes it, so
        // no code path can reach the link-local default.
        try (InstanceProfileCredentialsProvider provider =
                InstanceProfileCredentialsProvider.builder().endpoint(endpoint).build()) {
            AwsCredentials creds = provider.resolveCredentials();
            // The key id is not secret; the secret key and session token are never printed.
            System.err.println("credentials: access key id " + creds.accessKeyId());
        } catch (RuntimeException e) {
            System.err.println("credentials: " + e);
            return 1;
        }
        try {
            Region region = new InstanceProfileRegionProvider().getRegion();
            System.err.println("region: " + region.id());
        } catch (RuntimeException e) {
            System.err.println("region: " + e);
            return 1;
        }
        try (Ec2MetadataClient client =
                Ec2MetadataClient.builder().endpoint(URI.create(endpoint)).build()) {
            String id = client.get("/latest/meta-data/instance-id").asString();
            System.err.println("instance-id: " + id);
        } catch (RuntimeException e) {
            System.err.println("instance-id: " + e);
            return 1;
        }
        return 0;
    }
}
