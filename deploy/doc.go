// Package deploy holds the deployment files; its tests check them.
//
// The files are kubernetes/ (a kustomize base and an example overlay),
// helm/bootstrap/ (a chart), and compose/ (docker-compose). The tests decode
// every Kubernetes manifest of the base into the k8s.io/api types with strict
// decoding and check the fields a bootstrap Job must have; the chart and the overlay are
// rendered and checked by the separate module in render/.
package deploy
