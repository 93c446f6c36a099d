//go:build tools

// Package bootstrap pins the dependencies the packages are being written
// against; delete once every one is imported by real code.
package bootstrap

import (
	_ "github.com/alecthomas/kong"
	_ "github.com/hashicorp/go-retryablehttp"
	_ "github.com/lmittmann/tint"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/common/expfmt"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/testcontainers/testcontainers-go"
	_ "github.com/testcontainers/testcontainers-go/network"
	_ "github.com/testcontainers/testcontainers-go/wait"
	_ "go.mongodb.org/mongo-driver/v2/mongo"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/crypto/bcrypt"
	_ "golang.org/x/crypto/x509roots/fallback"
	_ "k8s.io/api/apps/v1"
	_ "k8s.io/api/batch/v1"
	_ "sigs.k8s.io/yaml"
)
