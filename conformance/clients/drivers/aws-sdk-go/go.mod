module imdspec.local/drivers/aws-sdk-go

go 1.23

require github.com/aws/aws-sdk-go v1.55.8

require github.com/jmespath/go-jmespath v0.4.0 // indirect
