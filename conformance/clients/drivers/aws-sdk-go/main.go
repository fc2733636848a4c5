// A small program using aws-sdk-go (v1) as an application would, for `imdspec client-check`:
// the session's default credential chain (which ends at ec2rolecreds), the region from
// ec2metadata.Region and the instance id from ec2metadata.GetMetadata, in that order; a
// failure does not stop the later components, so each is judged. Exit 0 when all three
// loaded, 1 otherwise, 2 when the endpoint is not a
// loopback one.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/ec2metadata"
	"github.com/aws/aws-sdk-go/aws/session"
)

func main() { os.Exit(run()) }

func run() int {
	endpoint := os.Getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT")
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		fmt.Fprintf(os.Stderr, "refusing endpoint %q: not loopback\n", endpoint)
		return 2
	}
	// The session reads AWS_EC2_METADATA_SERVICE_ENDPOINT and AWS_EC2_METADATA_DISABLED itself;
	// a region is set so the session builds without one (the IMDS region is read below).
	sess, err := session.NewSessionWithOptions(session.Options{
		Config:            aws.Config{Region: aws.String("us-east-1")},
		EC2IMDSEndpoint:   endpoint,
		SharedConfigState: session.SharedConfigDisable,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "session: %v\n", err)
		return 1
	}
	code := 0
	if creds, err := sess.Config.Credentials.Get(); err != nil {
		fmt.Fprintf(os.Stderr, "credentials: %v\n", err)
		code = 1
	} else {
		// The key id is not secret; the secret key and session token are never printed.
		fmt.Fprintf(os.Stderr, "credentials: access key id %s from %s\n", creds.AccessKeyID, creds.ProviderName)
	}
	client := ec2metadata.New(sess, &aws.Config{Endpoint: aws.String(endpoint)})
	if region, err := client.Region(); err != nil {
		fmt.Fprintf(os.Stderr, "region: %v\n", err)
		code = 1
	} else {
		fmt.Fprintf(os.Stderr, "region: %s\n", region)
	}
	if id, err := client.GetMetadata("instance-id"); err != nil {
		fmt.Fprintf(os.Stderr, "instance-id: %v\n", err)
		code = 1
	} else {
		fmt.Fprintf(os.Stderr, "instance-id: %s\n", id)
	}
	return code
}
