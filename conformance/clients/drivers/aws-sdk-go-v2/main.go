// A small program using aws-sdk-go-v2 as an application would, for `imdspec client-check`:
// the default credential chain (which ends at ec2rolecreds), the region from IMDS
// (config.WithEC2IMDSRegion) and the instance id (imds.Client.GetMetadata), in that order; a
// failure does not stop the later components, so each is judged. Exit 0 when all three loaded, 1 otherwise, 2 when the endpoint
// is not a loopback one.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

func main() { os.Exit(run()) }

func run() int {
	endpoint := os.Getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT")
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		fmt.Fprintf(os.Stderr, "refusing endpoint %q: not loopback\n", endpoint)
		return 2
	}
	// A bound on the whole run; the SDK's own timeouts and retries decide everything inside it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The endpoint is passed explicitly too, so no code path can reach the link-local default.
	cfg, err := config.LoadDefaultConfig(ctx, config.WithEC2IMDSRegion(),
		config.WithEC2IMDSEndpoint(endpoint))
	if err != nil {
		fmt.Fprintf(os.Stderr, "config: %v\n", err)
		return 1
	}
	code := 0
	if creds, err := cfg.Credentials.Retrieve(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "credentials: %v\n", err)
		code = 1
	} else {
		// The key id is not secret; the secret key and session token are never printed.
		fmt.Fprintf(os.Stderr, "credentials: access key id %s from %s\n", creds.AccessKeyID, creds.Source)
	}
	if cfg.Region == "" {
		fmt.Fprintln(os.Stderr, "region: not loaded")
		code = 1
	} else {
		fmt.Fprintf(os.Stderr, "region: %s\n", cfg.Region)
	}
	client := imds.NewFromConfig(cfg, func(o *imds.Options) { o.Endpoint = endpoint })
	out, err := client.GetMetadata(ctx, &imds.GetMetadataInput{Path: "instance-id"})
	if err != nil {
		fmt.Fprintf(os.Stderr, "instance-id: %v\n", err)
		return 1
	}
	defer out.Content.Close()
	id, err := io.ReadAll(out.Content)
	if err != nil {
		fmt.Fprintf(os.Stderr, "instance-id: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "instance-id: %s\n", id)
	return code
}
