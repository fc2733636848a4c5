// A small program using aws-sdk-go (v1) as an application would, for `imdspec client-check`:
// the session's default credential chain (which ends at ec2rolecreds), the region from
// ec2metadata.Region and the instance id from ec2metadata.GetMetadata, in that order; a
// failure does not stop the later components, so each is judged. `--only COMPONENT` loads one
// of them; `--again-after-ms N` loads them again N ms after the start with the same session
// and client. Exit 0 when everything loaded, 1 otherwise, 2 when the endpoint is not a
// loopback one or the arguments are wrong.
package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/ec2metadata"
	"github.com/aws/aws-sdk-go/aws/session"
)

var components = []string{"credentials", "region", "instance-id"}

func main() { os.Exit(run()) }

// parseArgs gives the components to load and the delay before loading them again (0: once).
func parseArgs(args []string) ([]string, time.Duration, bool) {
	only, again := components, time.Duration(0)
	for ; len(args) > 0; args = args[2:] {
		if len(args) < 2 {
			return nil, 0, false
		}
		switch flag, value := args[0], args[1]; flag {
		case "--only":
			known := false
			for _, c := range components {
				known = known || c == value
			}
			if !known {
				return nil, 0, false
			}
			only = []string{value}
		case "--again-after-ms":
			var ms int64
			if _, err := fmt.Sscan(value, &ms); err != nil || ms < 0 {
				return nil, 0, false
			}
			again = time.Duration(ms) * time.Millisecond
		default:
			return nil, 0, false
		}
	}
	return only, again, true
}

func run() int {
	started := time.Now()
	only, again, ok := parseArgs(os.Args[1:])
	if !ok {
		fmt.Fprintln(os.Stderr, "usage: aws-sdk-go-driver [--only credentials|region|instance-id] [--again-after-ms N]")
		return 2
	}
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
	client := ec2metadata.New(sess, &aws.Config{Endpoint: aws.String(endpoint)})
	loads := map[string]func() (string, error){
		"credentials": func() (string, error) {
			creds, err := sess.Config.Credentials.Get()
			// The key id is not secret; the secret key and session token are never printed.
			return fmt.Sprintf("access key id %s from %s", creds.AccessKeyID, creds.ProviderName), err
		},
		"region":      client.Region,
		"instance-id": func() (string, error) { return client.GetMetadata("instance-id") },
	}
	code := 0
	loadAll := func() {
		for _, c := range only {
			if value, err := loads[c](); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", c, err)
				code = 1
			} else {
				fmt.Fprintf(os.Stderr, "%s: %s\n", c, value)
			}
		}
	}
	loadAll()
	if again > 0 {
		time.Sleep(time.Until(started.Add(again)))
		loadAll()
	}
	return code
}
