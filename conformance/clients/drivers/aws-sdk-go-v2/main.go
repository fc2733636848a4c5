// A small program using aws-sdk-go-v2 as an application would, for `imdspec client-check`:
// the default credential chain (which ends at ec2rolecreds), the region from IMDS
// (config.WithEC2IMDSRegion) and the instance id (imds.Client.GetMetadata), in that order; a
// failure does not stop the later components, so each is judged. `--only COMPONENT` loads one
// of them; `--again-after-ms N` loads them again N ms after the start with the same config
// and clients. Exit 0 when everything loaded, 1 otherwise, 2 when the endpoint is not a
// loopback one or the arguments are wrong.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
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
		fmt.Fprintln(os.Stderr, "usage: aws-sdk-go-v2-driver [--only credentials|region|instance-id] [--again-after-ms N]")
		return 2
	}
	endpoint := os.Getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT")
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		fmt.Fprintf(os.Stderr, "refusing endpoint %q: not loopback\n", endpoint)
		return 2
	}
	// A bound on the whole run; the SDK's own timeouts and retries decide everything inside it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var cfg aws.Config
	loaded := false
	code := 0
	// The endpoint is passed explicitly too, so no code path can reach the link-local default.
	// The region lookup happens while the config loads, so it only runs when asked for.
	loadConfig := func(withRegion bool) bool {
		if loaded {
			return true
		}
		opts := []func(*config.LoadOptions) error{config.WithEC2IMDSEndpoint(endpoint)}
		if withRegion {
			opts = append(opts, config.WithEC2IMDSRegion())
		}
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx, opts...); err != nil {
			fmt.Fprintf(os.Stderr, "config: %v\n", err)
			return false
		}
		loaded = true
		return true
	}
	wantRegion := false
	for _, c := range only {
		wantRegion = wantRegion || c == "region"
	}
	var client *imds.Client
	loads := map[string]func() error{
		"credentials": func() error {
			creds, err := cfg.Credentials.Retrieve(ctx)
			if err == nil {
				// The key id is not secret; the secret key and session token are never printed.
				fmt.Fprintf(os.Stderr, "credentials: access key id %s from %s\n", creds.AccessKeyID, creds.Source)
			}
			return err
		},
		"region": func() error {
			if cfg.Region == "" {
				return fmt.Errorf("not loaded")
			}
			fmt.Fprintf(os.Stderr, "region: %s\n", cfg.Region)
			return nil
		},
		"instance-id": func() error {
			if client == nil {
				client = imds.NewFromConfig(cfg, func(o *imds.Options) { o.Endpoint = endpoint })
			}
			out, err := client.GetMetadata(ctx, &imds.GetMetadataInput{Path: "instance-id"})
			if err != nil {
				return err
			}
			defer out.Content.Close()
			id, err := io.ReadAll(out.Content)
			if err == nil {
				fmt.Fprintf(os.Stderr, "instance-id: %s\n", id)
			}
			return err
		},
	}
	loadAll := func() {
		if !loadConfig(wantRegion) {
			code = 1
			return
		}
		for _, c := range only {
			if err := loads[c](); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", c, err)
				code = 1
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
